// The lessons gallery, first thing on the start page: the course chapter's lessons in its order (GET /api/lessons),
// one card each, with the problem's picture beside the fix's and one button that starts both on the same seed and
// opens them side by side (`?compare=A,B&lesson=NAME`). A picture is drawn by the server from a stored run of that
// very preset when this server has one (GET /api/presets/runs chooses it, one request for every preset, and checks
// its config is the preset's; its newest weights through GET /api/runs/{id}/samples; for a Dirac-GAN, its
// (θ, ψ) path from GET /api/runs/{id}/metrics drawn as the run view's phase portrait); otherwise the card says so
// plainly: it never shows a picture that did not come from that preset. A taxonomy lesson's card (first: explicit,
// approximate and implicit density) shows a set of presets, one model family each, on the same data, tagged by
// the kind of density each gives, and starts them all at once on one seed (`?compare=A,B,C,D&lesson=NAME`).
import { api, apiBlob } from "./api.js";
import { h, shortId } from "./dom.js";
import { createPortrait } from "./portrait.js";
import { familyRole, lessonCards, pairOverrides } from "./lessons.js";

const IMAGE_KINDS = ["digits", "fashion_mnist", "npz", "upload"];
const PICTURES_AT_ONCE = 2; // the server samples two at a time (its sampling lane): asking for more only queues
const PATH_POINTS = 400; // a Dirac-GAN's (θ, ψ) path: enough for its spiral at card size
const KIND_TAGS = { taxonomy: "Taxonomy", problem: "Problem", fix: "Fix" };

/**
 * @param {{lessons: import("./lessons.js").Lesson[], presets: any[], meta: import("./meta.js").Meta,
 *   navigate: (state: any) => void}} opts lessons: GET /api/lessons, read with the page's other vocabulary so the
 *   cards are there at once (nothing below them moves when they arrive)
 */
export function createGallery({ lessons, presets, meta, navigate }) {
  const grid = h("div", { class: "lesson-grid", testid: "lesson-gallery" });
  const error = h("p", { class: "error", role: "alert", testid: "gallery-error" });
  const element = h("section", { class: "gallery", "aria-labelledby": "gallery-title" }, grid, error);
  const labels = new Map((meta.metrics || []).map((m) => [m.name, m.label || m.name]));
  const presetOf = (name) => presets.find((p) => p.name === name);
  const abort = new AbortController();
  const urls = [];
  /** @type {Map<string, HTMLElement[]>} preset → its picture boxes still waiting for a picture */
  const waiting = new Map();

  /** @param {string} name @param {string} role problem, fix, or a kind of density @param {string} [tag] its text */
  function picture(name, role, tag = role === "problem" ? "problem" : "fix") {
    const p = presetOf(name);
    const box = h("div", { class: "lesson-pic-box", "data-source": "loading" },
      h("span", { class: "muted small" }, "looking for a run…"));
    if (!waiting.has(name)) waiting.set(name, []);
    waiting.get(name).push(box);
    return h("figure", { class: `lesson-pic ${role}`, testid: "lesson-picture", "data-preset": name, "data-role": role },
      box,
      h("figcaption", {}, h("span", { class: `tag ${role}`, testid: "lesson-picture-role" }, tag), " ",
        h("code", {}, name), p ? h("span", { class: "muted" }, ` ${p.title}`) : null));
  }

  function card({ lesson, pairs, solo, sets }) {
    const note = h("p", { class: "error small", role: "alert", testid: "lesson-error" });
    const pics = h("div", { class: "lesson-pics" });
    let chosen = pairs[0];
    let set = sets[0];
    const showSet = () => pics.replaceChildren(...set.presets.map((name) => {
      const role = familyRole(presetOf(name).config.model.family);
      return picture(name, role.kind, role.text);
    }));
    const showPair = () => pics.replaceChildren(picture(chosen.problem, "problem"),
      h("span", { class: "lesson-arrow", "aria-hidden": "true" }, "→"), picture(chosen.fix, "fix"));
    const actions = h("div", { class: "row wrap lesson-actions" });
    if (pairs.length) {
      showPair();
      if (pairs.length > 1) {
        const select = h("select", { testid: "lesson-pair-select", "aria-label": `which pair of ${lesson.title}` },
          pairs.map((p, i) => h("option", { value: String(i) }, `${p.problem} → ${p.fix}`)));
        select.addEventListener("change", () => { chosen = pairs[Number(select.value)]; showPair(); loadPictures(); });
        actions.append(select);
      }
      actions.append(h("button", { type: "button", class: "primary", testid: "run-pair-start",
        onclick: (e) => runPair(lesson.name, chosen, e.currentTarget, note) }, "Run both, side by side"));
    } else if (sets.length) {
      pics.classList.add("together"); // one family of each kind on the same data, side by side
      showSet();
      if (sets.length > 1) {
        const select = h("select", { testid: "lesson-set-select", "aria-label": `which data for ${lesson.title}` },
          sets.map((t, i) => h("option", { value: String(i) }, t.name)));
        select.addEventListener("change", () => {
          set = sets[Number(select.value)];
          showSet();
          start.textContent = `Run all ${set.presets.length} side by side`;
          loadPictures();
        });
        actions.append(select);
      }
      const start = h("button", { type: "button", class: "primary", testid: "lesson-together-start",
        onclick: (e) => runTogether(lesson.name, set, e.currentTarget, note) }, `Run all ${set.presets.length} side by side`);
      actions.append(start);
    } else if (solo.length) {
      pics.classList.add("solo"); // a fix the chapter shows on its own: its presets side by side, no arrow
      pics.append(...solo.slice(0, 2).map((name) => picture(name, lesson.kind === "fix" ? "fix" : "problem")));
      actions.append(...solo.slice(0, 2).map((name, i) => h("button", { type: "button", class: i ? "" : "primary",
        testid: "lesson-run", onclick: (e) => runOne(name, e.currentTarget, note) }, `Run ${name}`)));
    }
    lesson.sweeps.forEach((sweep, i) => {
      if (!pairs.length && !solo.length && !i) {
        pics.append(h("div", { class: "lesson-pic-box", "data-source": "sweep" },
          h("span", { class: "muted small" }, "A sweep: the same GAN over a grid of settings, one run per cell, "
            + "with a heatmap of how each ended.")));
      }
      actions.append(h("button", { type: "button", class: pairs.length || solo.length ? "" : "primary",
        testid: "lesson-sweep", onclick: (e) => runSweep(sweep, e.currentTarget, note) }, `Start the sweep ${sweep}`));
    });
    const watch = lesson.watch.map((name) => labels.get(name) || name);
    return h("article", { class: `lesson-card ${lesson.kind}`, testid: "lesson-card", "data-lesson": lesson.name },
      h("header", {}, h("span", { class: `tag ${lesson.kind}` }, KIND_TAGS[lesson.kind] || lesson.kind),
        h("h3", {}, lesson.title), h("p", { class: "muted small" }, lesson.chapter)),
      pics,
      watch.length ? h("p", { class: "small" }, h("strong", {}, "Watch: "), watch.join(", ")) : null,
      actions, note);
  }

  async function runPair(lessonName, pair, button, note) {
    const problem = presetOf(pair.problem);
    const fix = presetOf(pair.fix);
    button.disabled = true;
    note.textContent = "";
    let first = null;
    try {
      first = await api("/api/runs", { method: "POST", json: { preset: problem.name } });
      const second = await api("/api/runs", { method: "POST",
        json: { preset: fix.name, overrides: pairOverrides(problem, fix) } });
      navigate({ compare: [first.id, second.id], lesson: lessonName });
    } catch (err) {
      // Both or neither: a problem run without its fix would teach nothing, and would hold a place in the quota.
      if (first) api(`/api/runs/${first.id}/stop`, { method: "POST" }).catch(() => {});
      note.textContent = `Could not start the pair: ${err.message}`;
      button.disabled = false;
    }
  }

  /** Start every preset of the set on the first one's seed, then watch them together; all or none. */
  async function runTogether(lessonName, set, button, note) {
    const chosen = set.presets.map(presetOf);
    const started = [];
    button.disabled = true;
    note.textContent = "";
    try {
      for (const preset of chosen) {
        const run = await api("/api/runs", { method: "POST",
          json: { preset: preset.name, overrides: pairOverrides(chosen[0], preset) } });
        started.push(run.id);
      }
      navigate({ compare: started, lesson: lessonName });
    } catch (err) {
      // As with a pair: part of the set teaches nothing beside the rest, and would hold places in the quota.
      for (const id of started) api(`/api/runs/${id}/stop`, { method: "POST" }).catch(() => {});
      note.textContent = `Could not start all ${chosen.length}: ${err.message}`
        + (started.length ? ` (stopped the ${started.length} already started).` : "");
      button.disabled = false;
    }
  }

  async function runOne(name, button, note) {
    button.disabled = true;
    try {
      navigate({ run: (await api("/api/runs", { method: "POST", json: { preset: name } })).id });
    } catch (err) {
      note.textContent = `Could not start ${name}: ${err.message}`;
      button.disabled = false;
    }
  }

  async function runSweep(lesson, button, note) {
    button.disabled = true;
    try {
      navigate({ sweep: (await api("/api/sweeps", { method: "POST", json: { lesson } })).id });
    } catch (err) {
      note.textContent = `Could not start the sweep: ${err.message}`;
      button.disabled = false;
    }
  }

  // ------------------------------------------------------------------ pictures from stored runs
  /** @type {Map<string, any> | null} preset → the stored run that may stand for its picture (GET /api/presets/runs:
   * the server checks the run's config against the preset's), or null where there is none */
  let chosenRuns = null;
  const found = new Map(); // preset → Promise<{run, url} | null>

  /** The newest weights of the stored run chosen for this preset, drawn by the server; null when there is none. */
  function storedPicture(name) {
    if (!found.has(name)) {
      found.set(name, (async () => {
        const preset = presetOf(name);
        const run = chosenRuns?.get(name);
        if (!preset || !run) return null;
        if (preset.config.dataset.kind === "dirac") { // its picture is its path in the (θ, ψ) plane, as the run view draws it
          const { series } = await api(`/api/runs/${run.id}/metrics?names=theta,psi&max_points=${PATH_POINTS}`,
            { signal: abort.signal });
          return series.theta?.length ? { run, step: run.step, dirac: series } : null;
        }
        const image = IMAGE_KINDS.includes(preset.config.dataset.kind);
        const query = image ? "n=16&seed=0" : `n=${preset.config.stream.n_samples}&seed=0`;
        const { blob, headers } = await apiBlob(`/api/runs/${run.id}/samples?${query}&format=png`, abort.signal);
        const url = URL.createObjectURL(blob);
        urls.push(url);
        return { run, url, step: Number(headers.get("X-Checkpoint-Step") ?? run.step) };
      })().catch(() => null)); // its weights went away (deleted meanwhile): no picture rather than a broken one
    }
    return found.get(name);
  }

  async function fill(name) {
    const result = await storedPicture(name);
    for (const box of waiting.get(name) || []) {
      if (result) {
        box.dataset.source = "run";
        const portrait = result.dirac ? createPortrait({ testid: "lesson-portrait" }) : null;
        box.replaceChildren(
          portrait ? portrait.element : h("img", { src: result.url,
            alt: `${name}: samples of run ${shortId(result.run.id)} at step ${result.step}` }),
          h("a", { class: "small pic-source", testid: "lesson-picture-run", href: `?run=${result.run.id}`,
            onclick: (e) => { e.preventDefault(); navigate({ run: result.run.id }); } },
          `run ${shortId(result.run.id)} · step ${result.step}`));
        if (portrait) requestAnimationFrame(() => portrait.draw(result.dirac.theta, result.dirac.psi, null));
      } else {
        box.dataset.source = "none";
        box.replaceChildren(h("span", { class: "pic-none small" },
          `No run of ${name} on this server yet: its picture shows here once one has trained.`));
      }
    }
    waiting.delete(name);
  }

  async function loadPictures() {
    if (!chosenRuns) return;
    const names = [...waiting.keys()];
    const next = async () => { while (names.length && !abort.signal.aborted) await fill(names.shift()); };
    await Promise.all(Array.from({ length: PICTURES_AT_ONCE }, next));
  }

  grid.replaceChildren(...lessonCards(lessons, presets).map(card));
  (async () => {
    try {
      const names = presets.map((p) => p.name).join(",");
      const answer = await api(`/api/presets/runs?names=${encodeURIComponent(names)}`, { signal: abort.signal });
      chosenRuns = new Map(answer.map(({ preset, run }) => [preset, run]));
      await loadPictures();
    } catch (err) {
      if (abort.signal.aborted) return;
      error.textContent = `Could not look for stored runs to draw: ${err.message}`;
      for (const box of [...waiting.values()].flat()) {
        box.dataset.source = "none";
        box.replaceChildren(h("span", { class: "pic-none small" }, "No picture: the stored runs could not be looked up."));
      }
    }
  })();

  return { element, destroy: () => { abort.abort(); urls.forEach((u) => URL.revokeObjectURL(u)); } };
}
