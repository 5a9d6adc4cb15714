// The samples panel: draw n samples on a seed (and a label, for a conditional run) from the run's newest
// checkpoint, download the PNG, and see the REST call that does the same from a script.
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
