// Compare 2–4 runs: one chart per metric with a line per run (overlaid), and the runs' newest samples side by
// side. Runs of different model families (a taxonomy lesson's MADE, VAE, AE and GAN) share a chart only where they
// share a metric; what one run alone reports (MADE's NLL, a GAN's D loss) is charted in its own column. Each run has
// its own stream, applied by the same reducer as the run view's; redraws are throttled since aligning the series
// costs more than one run's.
import uPlot from "/vendor/uPlot.esm.js";
import { api } from "./api.js";
import { changeLabel, createChart, PALETTE } from "./charts.js";
import { h, shortId } from "./dom.js";
import { createFieldView } from "./field.js";
import { createPortrait } from "./portrait.js";
import { familyRole } from "./lessons.js";
import { chartedMetrics, chartSpecs, splitMetrics } from "./meta.js";
import { frameScheduler, timeHandler } from "./perf.js";
import { applyEvent, createRunState, takeDirty } from "./reducer.js";
import { openStream } from "./stream.js";
import { pngUrl, releasePng } from "./wire.js";

const THROTTLE_MS = 250;

/**
 * @param {{runIds: string[], lesson?: string, lessons?: import("./lessons.js").Lesson[], meta: import("./meta.js").Meta,
 *   navigate: (state: any) => void}} opts lesson: the runs are that lesson's problem and fix (a run pair from
 *   the gallery), or a taxonomy lesson's set of model families (started together): the view is titled by the lesson
 *   and says which column is which; lessons: GET /api/lessons, when the page has it already
 */
export function createCompareView({ runIds, lesson, lessons, meta, navigate }) {
  const known = lessons?.find((l) => l.name === lesson);
  const taxonomy = known?.kind === "taxonomy"; // each column tagged by its model family's kind of density
  const specs = chartSpecs(meta);
  const runs = runIds.map((id, i) => ({ id, i, state: createRunState(),
    field: createFieldView({ testid: `compare-field-${i}`, size: 320 }),
    portrait: createPortrait({ testid: `compare-portrait-${i}` }), // a Dirac-GAN run's picture
    img: h("img", { class: "sample-grid small", alt: "samples", hidden: true }),
    head: h("div", { class: "compare-head" }),
    own: h("div", { class: "charts compare-own", testid: `compare-own-${i}` }) }));
  const metricNames = chartedMetrics(meta).map((m) => m.name);
  let plan = splitMetrics(metricNames, runs.map(() => () => false));
  const chartsBox = h("div", { class: "charts compare-charts" });
  const charts = chartedMetrics(meta).map((m) => createChart(chartsBox, { id: m.name, title: m.label, series: [] },
    () => source(m.name)));
  for (const r of runs) { // the metrics only this run reports, grouped as the run view groups them
    r.charts = specs.map((spec) => createChart(r.own, { ...spec, testid: `compare-own-${r.i}-${spec.id}` },
      () => ownSource(r, spec)));
  }
  const columns = runs.map((r) => {
    r.field.element.hidden = true;
    r.portrait.element.hidden = true;
    const role = lesson && !taxonomy ? (r.i === 0 ? "problem" : "fix") : null;
    r.tag = taxonomy ? h("span", { class: "tag", testid: `compare-family-${r.i}` }) : null; // filled from its config
    r.col = h("div", { class: "compare-col", "data-run-id": r.id, "data-step": "0", "data-role": role,
      style: `--run-colour: ${PALETTE[r.i]}` },
    role ? h("span", { class: `tag ${role}` }, role === "problem" ? "the problem" : "the fix") : r.tag, r.head,
    r.field.element, r.portrait.element, r.img, r.own);
    return r.col;
  });
  const title = h("h1", {}, lesson ? `Lesson: ${lesson}` : `Comparing ${runIds.length} runs`);
  const about = h("p", { class: "muted small", testid: "run-pair-about" });
  const describe = (found) => {
    if (!found) return;
    title.textContent = found.title;
    const labels = new Map((meta.metrics || []).map((m) => [m.name, m.label || m.name]));
    const order = found.kind === "taxonomy"
      ? "One model family of each kind on the same data and the same seed; each column's own metrics are charted in it, "
        + "the ones they share below."
      : "The problem first, then the fix, on the same seed.";
    about.textContent = `${found.chapter}. ${order} Watch: ${found.watch.map((n) => labels.get(n) || n).join(", ")}.`;
  };
  if (known) describe(known);
  else if (lesson) api("/api/lessons").then((all) => describe(all.find((l) => l.name === lesson))).catch(() => {});
  const element = h("div", { class: `compare-view${lesson ? " run-pair" : ""}`, testid: lesson ? "run-pair" : "compare-view",
    "data-lesson": lesson },
    title, lesson ? about : null,
    runIds.length < 2 || runIds.length > 4 ? h("p", { class: "error" }, "Pick 2 to 4 runs to compare.") : null,
    h("div", { class: "compare-cols" }, columns), chartsBox);

  let last = 0;
  let timer = 0;
  const draw = frameScheduler(render);
  const schedule = () => {
    const wait = THROTTLE_MS - (performance.now() - last);
    if (wait <= 0) draw();
    else if (!timer) timer = setTimeout(() => { timer = 0; draw(); }, wait);
  };

  /** A run's name in a shared chart's legend: its role in a lesson pair, its preset in a taxonomy lesson. */
  const seriesLabel = (r) => (taxonomy ? `${r.state.run?.preset || "run"} ${shortId(r.id)}`
    : lesson ? `${r.i ? "fix" : "problem"} ${shortId(r.id)}` : shortId(r.id));

  /** Overlaid data for one metric that two or more runs report: the runs' steps joined (uPlot.join fills the gaps
   * with nulls). */
  function source(key) {
    const present = plan.shared.has(key) ? runs.filter((r) => r.state.store.has(key)) : [];
    if (!present.length) return { x: [], columns: [], changes: [] };
    const joined = uPlot.join(present.map((r) => [r.state.store.steps, r.state.store.columns.get(key)]));
    return {
      x: joined[0],
      columns: present.map((r, j) => [`${r.id}`, seriesLabel(r), joined[j + 1], undefined, PALETTE[r.i]]),
      changes: [],
    };
  }

  /** One run's chart of the metrics in `spec` that it alone reports, with its own change markers. */
  function ownSource(r, spec) {
    const store = r.state.store;
    return {
      x: store.steps,
      columns: spec.series.filter((s) => plan.own[r.i].has(s.name))
        .map((s) => [s.name, s.label, store.columns.get(s.name), s.axis]),
      changes: store.changes,
    };
  }

  function render() {
    last = performance.now();
    let chartsDirty = false;
    for (const r of runs) {
      if (!r.state.run) continue; // before its snapshot: nothing to show, and its flags wait for it
      const dirty = takeDirty(r.state);
      chartsDirty ||= dirty.charts;
      if (dirty.run) {
        const m = r.state.run;
        if (r.tag) {
          const role = familyRole(m.config.model.family);
          r.tag.textContent = role.text;
          r.col.dataset.role = role.kind;
          r.col.dataset.family = m.config.model.family;
        }
        const changes = r.state.store.changes;
        r.col.dataset.step = String(m.step);
        r.head.replaceChildren(...[
          h("a", { href: `?run=${r.id}`, onclick: (e) => { e.preventDefault(); navigate({ run: r.id }); } },
            h("span", { class: "swatch" }), `${m.preset || "custom"} · ${shortId(r.id)}`),
          h("span", { class: "status", "data-status": m.status }, m.status),
          m.owner || m.shared ? h("span", { class: "owner small", testid: `compare-owner-${r.i}` },
            [m.owner ? `by ${m.owner}` : "", m.shared ? "shared with the class" : ""].filter(Boolean).join(" · ")) : null,
          h("div", { class: "muted small" }, `step ${m.step}`, m.parent_id ? ` · forked from ${shortId(m.parent_id)} @ ${m.parent_step}` : ""),
          changes.length ? h("div", { class: "small" }, "changes: ", changes.map((c) => `${c.step}: ${changeLabel(c.changes)}`).join("; ")) : null,
        ].filter(Boolean));
      }
      if (dirty.image && r.state.image) {
        r.img.src = pngUrl(r.state.image); // the frame's PNG bytes (wire.js); the one shown before is given back
        if (r.shown !== r.state.image) releasePng(r.shown);
        r.shown = r.state.image;
        r.img.hidden = false;
      }
      const dirac = r.state.run.config.dataset.kind === "dirac";
      r.portrait.element.hidden = !dirac;
      if (dirac && (dirty.field || dirty.charts)) {
        r.portrait.draw(r.state.store.columns.get("theta"), r.state.store.columns.get("psi"), r.state.field);
      } else if (!dirac && dirty.field && r.state.field) { r.field.element.hidden = false; r.field.draw(r.state.field); }
    }
    if (chartsDirty) {
      plan = splitMetrics(metricNames, runs.map((r) => (name) => r.state.store.has(name)));
      for (const chart of [...charts, ...runs.flatMap((r) => r.charts)]) chart.update();
    }
  }

  const streams = runs.map((r) => openStream(r.id, {
    onState: () => {},
    onEvent: timeHandler((e) => { applyEvent(r.state, e); schedule(); }),
  }));

  return { element, destroy() {
    streams.forEach((s) => s.close());
    clearTimeout(timer);
    [...charts, ...runs.flatMap((r) => r.charts)].forEach((c) => c.destroy());
  } };
}
