// The samples panel: draw n samples on a seed (and a label, for a conditional run) from the run's newest
// checkpoint, download the PNG, and see the REST call that does the same from a script.
import { apiBlob } from "./api.js";
import { h } from "./dom.js";

/** @param {string} runId */
export function createSamplesPanel(runId) {
  const n = h("input", { type: "number", min: 1, max: 1024, value: 64, testid: "samples-n", "aria-label": "n" });
  const seed = h("input", { type: "number", min: 0, value: 0, testid: "samples-seed", "aria-label": "seed" });
  const label = h("input", { type: "number", min: 0, placeholder: "any", testid: "samples-label", "aria-label": "label" });
  const labelWrap = h("label", { hidden: true }, "label ", label);
  const url = h("code", { class: "url", testid: "samples-url" });
  const image = h("img", { class: "samples-img", alt: "samples from the newest checkpoint", hidden: true });
  const download = h("a", { class: "button", download: `ganplay-${runId}-samples.png`, testid: "samples-download" },
    "Download PNG");
  const draw = h("button", { type: "button", testid: "samples-draw" }, "Draw samples");
  const note = h("span", { class: "muted small" });
  let ready = false;

  function path() {
    const params = new URLSearchParams({ n: n.value || "64", seed: seed.value || "0" });
    if (!labelWrap.hidden && label.value !== "") params.set("label", label.value);
    return `/api/runs/${runId}/samples?${params}`;
  }
  function refresh() {
    const p = path();
    url.textContent = `curl -o samples.png '${location.origin}${p}'`;
    download.href = ready ? p : "";
    download.classList.toggle("disabled", !ready);
  }
  for (const input of [n, seed, label]) input.addEventListener("input", refresh);
  draw.addEventListener("click", () => {
    if (!ready) return;
    image.src = `${path()}&t=${Date.now()}`; // the newest checkpoint, not a cached picture
    image.hidden = false;
  });
  refresh();
  const element = h("details", { class: "samples-panel" },
    h("summary", {}, "Samples from the newest checkpoint"),
    h("div", { class: "row wrap" }, h("label", {}, "n ", n), h("label", {}, "seed ", seed), labelWrap, draw, download),
    note, url, image);
  return {
    element,
    /** Enabled once the run has a checkpoint (before that the server answers 409). */
    update(checkpointStep, conditional) {
      ready = checkpointStep !== null && checkpointStep !== undefined;
      draw.disabled = !ready;
      labelWrap.hidden = !conditional;
      note.textContent = ready ? `newest checkpoint: step ${checkpointStep}` : "available after the first checkpoint";
      refresh();
    },
  };
}

// ------------------------------------------------------------------ latent walk (image runs)

const WALK_MAX_STEPS = 16; // models/sampling.py WALK_MAX_STEPS: the server refuses more (422 naming steps)

/** A latent walk of an image run (GET /api/runs/{id}/walk): samples along the spherical path between the latents of
 * two seeds, one strip; for a conditional run a grid with one row per label, the same latents in every row.
 * @param {string} runId */
export function createLatentWalk(runId) {
  const seedA = h("input", { type: "number", min: 0, value: 0, testid: "walk-seed-a", "aria-label": "seed A" });
  const seedB = h("input", { type: "number", min: 0, value: 1, testid: "walk-seed-b", "aria-label": "seed B" });
  const steps = h("input", { type: "number", min: 2, max: WALK_MAX_STEPS, value: 8, testid: "walk-steps",
    "aria-label": "steps" });
  const image = h("img", { class: "walk-strip", alt: "samples along a latent walk", hidden: true });
  const note = h("p", { class: "muted small", role: "status" });
  const walk = h("button", { type: "button", testid: "walk-draw" }, "Walk");
  const shuffle = h("button", { type: "button", testid: "walk-new-seeds" }, "New seeds");
  const title = h("h3", { class: "walk-title" }, "Latent walk");
  const element = h("section", { class: "latent-walk", testid: "latent-walk", hidden: true,
    "aria-label": "Latent walk" },
  title,
  h("p", { class: "muted small" }, "G along the arc between two latents (spherical interpolation keeps to where the prior's mass is): ",
    "smooth changes mean G learned a continuous map, jumps a torn one."),
  h("div", { class: "row wrap" }, h("label", {}, "seed A ", seedA), h("label", {}, "seed B ", seedB),
    h("label", {}, "steps ", steps), walk, shuffle),
  image, note);
  let ready = false;
  let drawn = false;
  let conditional = false;
  let controller = null;
  let url = "";

  async function draw() {
    if (!ready) return;
    const params = new URLSearchParams({ seed_a: seedA.value || "0", seed_b: seedB.value || "1", steps: steps.value || "8" });
    if (controller) controller.abort();
    controller = new AbortController();
    walk.disabled = true;
    try {
      const { blob, headers } = await apiBlob(`/api/runs/${runId}/walk?${params}`, controller.signal);
      if (url) URL.revokeObjectURL(url);
      url = URL.createObjectURL(blob);
      image.src = url;
      image.hidden = false;
      image.dataset.step = headers.get("X-Checkpoint-Step") || "";
      note.textContent = `weights of step ${image.dataset.step} · seeds ${params.get("seed_a")} → ${params.get("seed_b")}`
        + (conditional ? " · a row per label" : "");
    } catch (err) {
      if (err.name !== "AbortError") note.textContent = err.message;
    } finally {
      walk.disabled = !ready;
    }
  }
  walk.addEventListener("click", draw);
  shuffle.addEventListener("click", () => {
    seedA.value = String(Math.floor(Math.random() * 100000));
    seedB.value = String(Math.floor(Math.random() * 100000));
    draw();
  });

  return {
    element,
    /** Shown for image runs once they have weights (a first step); the first walk is drawn by itself. */
    update(imageRun, hasWeights, isConditional) {
      element.hidden = !imageRun;
      ready = imageRun && hasWeights;
      conditional = isConditional;
      title.textContent = conditional ? "Latent walk, one row per label" : "Latent walk";
      walk.disabled = !ready;
      shuffle.disabled = !ready;
      if (ready && !drawn) { drawn = true; draw(); }
    },
  };
}
