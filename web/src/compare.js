// Compare 2–4 runs: one chart per metric with a line per run (overlaid), and the runs' newest samples side by
// side. Each run has its own stream; redraws are throttled since aligning the series costs more than one run's.
import uPlot from "/vendor/uPlot.esm.js";
import { changeLabel, createChart, PALETTE } from "./charts.js";
import { h, shortId } from "./dom.js";
import { createFieldView } from "./field.js";
import { frameScheduler, timeHandler } from "./perf.js";
import { MetricStore } from "./store.js";
import { openStream } from "./stream.js";

const METRICS = [["d_loss", "D loss"], ["g_loss", "G loss"], ["d_real", "D(x)"], ["d_fake", "D(G(z))"],
  ["grad_norm_g", "‖∇G‖"], ["modes_covered", "modes covered"], ["hq_fraction", "hq fraction"], ["fd", "FD"],
  ["class_coverage", "classes covered"], ["it_per_s", "it/s"]];
const THROTTLE_MS = 250;

/** @param {{runIds: string[], navigate: (state: any) => void}} opts */
export function createCompareView({ runIds, navigate }) {
  const runs = runIds.map((id, i) => ({ id, i, store: new MetricStore(), run: null, frame: null, dirty: false,
    field: createFieldView({ testid: `compare-field-${i}`, size: 320 }),
    img: h("img", { class: "sample-grid small", alt: "samples", hidden: true }),
    head: h("div", { class: "compare-head" }) }));
  const chartsBox = h("div", { class: "charts compare-charts" });
  const charts = METRICS.map(([key, label]) => createChart(chartsBox, { id: key, title: label, series: [] }, () => source(key)));
  const columns = runs.map((r) => {
    r.field.element.hidden = true;
    return h("div", { class: "compare-col", "data-run-id": r.id, style: `--run-colour: ${PALETTE[r.i]}` }, r.head, r.field.element, r.img);
  });
  const element = h("div", { class: "compare-view", testid: "compare-view" },
    h("h1", {}, `Comparing ${runIds.length} runs`),
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

  /** Overlaid data for one metric: the runs' steps joined (uPlot.join fills the gaps with nulls). */
  function source(key) {
    const present = runs.filter((r) => r.store.has(key));
    if (!present.length) return { x: [], columns: [], changes: [] };
    const joined = uPlot.join(present.map((r) => [r.store.steps, r.store.columns.get(key)]));
    return {
      x: joined[0],
      columns: present.map((r, j) => [`${r.id}`, shortId(r.id), joined[j + 1], undefined, PALETTE[r.i]]),
      changes: present.length === 1 ? present[0].store.changes : [],
    };
  }

  function render() {
    last = performance.now();
    for (const r of runs) {
      if (r.run) {
        const m = r.run;
        r.head.replaceChildren(...[
          h("a", { href: `?run=${r.id}`, onclick: (e) => { e.preventDefault(); navigate({ run: r.id }); } },
            h("span", { class: "swatch" }), `${m.preset || "custom"} · ${shortId(r.id)}`),
          h("span", { class: "status", "data-status": m.status }, m.status),
          h("div", { class: "muted small" }, `step ${m.step}`, m.parent_id ? ` · forked from ${shortId(m.parent_id)} @ ${m.parent_step}` : ""),
          r.store.changes.length ? h("div", { class: "small" }, "changes: ", r.store.changes.map((c) => `${c.step}: ${changeLabel(c.changes)}`).join("; ")) : null,
        ].filter(Boolean));
      }
      if (r.dirty && r.frame) {
        r.dirty = false;
        if (r.frame.png) { r.img.src = `data:image/png;base64,${r.frame.png}`; r.img.hidden = false; }
        else { r.field.element.hidden = false; r.field.draw(r.frame); }
      }
    }
    for (const chart of charts) chart.update();
  }

  const streams = runs.map((r) => openStream(r.id, {
    onState: () => {},
    onEvent: timeHandler((e) => {
      if (e.type === "snapshot") {
        r.run = e.run;
        r.store.load(e.metrics, e.run.changes);
        for (const f of e.frames) if (f.type === "field" || f.png) { r.frame = f; r.dirty = true; }
      } else if (e.type === "metrics") {
        r.store.append(e.rows);
        if (r.run) r.run.step = e.rows[e.rows.length - 1].step;
      } else if (e.type === "field" || (e.type === "samples" && e.png)) { r.frame = e; r.dirty = true; }
      else if (e.type === "status" && r.run) { r.run.status = e.status; }
      else if (e.type === "config") r.store.addChange(e.step, e.changes);
      schedule();
    }),
  }));

  return { element, destroy() { streams.forEach((s) => s.close()); clearTimeout(timer); charts.forEach((c) => c.destroy()); } };
}
