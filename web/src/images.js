// The image run's sample grid: a fixed latent's samples, updating live, and a scrubber back over the grids the
// server saved (GET /api/runs/{id}/snapshots).
import { api } from "./api.js";
import { h } from "./dom.js";
import { pngUrl, releasePng } from "./wire.js";

export function createImagePanel(runId) {
  const img = h("img", { class: "sample-grid", testid: "sample-grid", alt: "generated samples from a fixed latent" });
  const scrubber = h("input", { type: "range", min: 0, max: 0, value: 0, step: 1, testid: "snapshot-scrubber",
    "aria-label": "Saved snapshots" });
  const where = h("span", { class: "muted small" }, "waiting for the first samples…");
  const follow = h("button", { type: "button", hidden: true }, "Back to live");
  const element = h("div", { class: "image-box" }, img, h("div", { class: "row" }, scrubber, follow), where);
  /** @type {number[]} */
  let steps = [];
  let live = true;
  let latest = null;
  let shown = null; // the live frame whose object URL the picture holds
  let loaded = false;

  function showLive() {
    if (!latest) return;
    img.src = pngUrl(latest); // the frame's PNG bytes, binary off the stream
    if (shown !== latest) releasePng(shown);
    shown = latest;
    img.dataset.step = String(latest.step);
    where.textContent = `step ${latest.step} · live`;
  }
  function syncScrubber() {
    scrubber.max = String(Math.max(0, steps.length - 1));
    if (live) scrubber.value = scrubber.max;
  }
  scrubber.addEventListener("input", () => {
    const i = Number(scrubber.value);
    live = i >= steps.length - 1;
    follow.hidden = live;
    if (live) { showLive(); return; }
    img.src = `/api/runs/${runId}/snapshots/${steps[i]}`;
    img.dataset.step = String(steps[i]);
    where.textContent = `step ${steps[i]} · saved snapshot ${i + 1} of ${steps.length}`;
  });
  follow.addEventListener("click", () => { live = true; follow.hidden = true; syncScrubber(); showLive(); });

  return {
    element,
    /** A live `samples` frame with a PNG (bytes: wire.js). */
    frame(event) {
      latest = event;
      if (!steps.includes(event.step)) steps.push(event.step);
      if (!loaded) {
        loaded = true;
        api(`/api/runs/${runId}/snapshots`).then((r) => {
          steps = [...new Set([...r.steps, ...steps])].sort((a, b) => a - b);
          syncScrubber();
        }).catch(() => {});
      }
      syncScrubber();
      if (live) showLive();
    },
  };
}
