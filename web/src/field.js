// The 2D field view, as in GAN Lab: D's verdict over the plane as a heatmap (green: "real", purple: "fake"),
// real data, generated samples, the direction G's loss pulls each sample, and mode centres marked covered
// (filled) or not (hollow red ring). Our own canvas code: no library draws this.
import { h } from "./dom.js";

const REAL = "#15803d";
const FAKE = "#7c3aed";
const ARROW = "rgba(25, 10, 55, 0.6)";

/** D's readout in [0, 1] → a colour between purple (0) and green (1) through white (0.5). The distance from 0.5
 * goes through a square root so the small leanings of an undecided D (0.45 vs 0.55) are still visible. */
function heat(v) {
  const c = Math.max(0, Math.min(1, v)) - 0.5;
  const t = 0.5 + Math.sign(c) * Math.sqrt(Math.abs(c) * 2) / 2;
  const [r, g, b] = t < 0.5
    ? mix([196, 167, 245], [255, 255, 255], t * 2)
    : mix([255, 255, 255], [150, 220, 170], (t - 0.5) * 2);
  return [r, g, b];
}
const mix = (a, b, t) => a.map((x, i) => Math.round(x + (b[i] - x) * t));

export function createFieldView({ testid = "field-view", size = 360 } = {}) {
  const canvas = h("canvas", { class: "field", testid, width: size, height: size,
    role: "img", "aria-label": "Field view: real data, generated samples, D's heatmap and G's gradient arrows" });
  const heatCanvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  const caption = h("div", { class: "field-legend" },
    h("span", { class: "key real" }, "real data"), h("span", { class: "key fake" }, "generated"),
    h("span", { class: "key arrow" }, "G's pull"), h("span", { class: "key heat" }, "D: fake → real"),
    h("span", { class: "key covered mode-key" }, "mode covered"), h("span", { class: "key missed mode-key" }, "mode missed"));
  const status = h("div", { class: "muted field-step" }, "waiting for the first frame…");
  const element = h("div", { class: "field-box" }, canvas, status, caption);
  let frames = 0;

  /** Draw one `field` frame (or a `samples` frame of points, which has no heatmap). */
  function draw(frame, { showReal = true, showArrows = true, showHeat = true } = {}) {
    const W = canvas.width;
    const [xmin, xmax, ymin, ymax] = frame.bounds || boundsOf(frame.points || frame.samples);
    const span = Math.max(xmax - xmin, ymax - ymin);
    const cx = (xmin + xmax) / 2, cy = (ymin + ymax) / 2;
    const px = (x) => ((x - cx) / span + 0.5) * W;
    const py = (y) => (0.5 - (y - cy) / span) * W;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, W);
    if (showHeat && frame.d) {
      const R = frame.resolution;
      heatCanvas.width = R; heatCanvas.height = R;
      const hctx = heatCanvas.getContext("2d");
      const image = hctx.createImageData(R, R);
      const flat = frame.d.flat();
      let lo = Math.min(...flat), hi = Math.max(...flat);
      const unit = lo >= 0 && hi <= 1; // a sigmoid readout; other losses' critics are rescaled to [0, 1]
      if (unit) { lo = 0; hi = 1; }
      for (let row = 0; row < R; row++) {
        for (let col = 0; col < R; col++) {
          const v = (frame.d[row][col] - lo) / (hi - lo || 1);
          const [r, g, b] = heat(v);
          const o = ((R - 1 - row) * R + col) * 4; // row 0 is ymin: the bottom of the picture
          image.data[o] = r; image.data[o + 1] = g; image.data[o + 2] = b; image.data[o + 3] = 255;
        }
      }
      hctx.putImageData(image, 0, 0);
      ctx.imageSmoothingEnabled = true;
      // The grid spans exactly the frame's bounds: place it there (the view is square, the bounds may not be).
      ctx.drawImage(heatCanvas, px(xmin), py(ymax), px(xmax) - px(xmin), py(ymin) - py(ymax));
    }
    if (showReal && frame.real) {
      ctx.fillStyle = REAL;
      for (const [x, y] of frame.real) ctx.fillRect(px(x) - 1.5, py(y) - 1.5, 3, 3);
    }
    const samples = frame.samples || frame.points || [];
    ctx.fillStyle = FAKE;
    for (const [x, y] of samples) {
      ctx.beginPath(); ctx.arc(px(x), py(y), 2.2, 0, 2 * Math.PI); ctx.fill();
    }
    if (showArrows && frame.directions) {
      ctx.strokeStyle = ARROW;
      ctx.lineWidth = 1;
      ctx.beginPath();
      const len = W * 0.035;
      for (let i = 0; i < samples.length; i += 2) { // every other sample: arrows stay legible
        const [x, y] = samples[i];
        const [dx, dy] = frame.directions[i];
        const x0 = px(x), y0 = py(y), x1 = x0 + dx * len, y1 = y0 - dy * len;
        ctx.moveTo(x0, y0); ctx.lineTo(x1, y1);
        const a = Math.atan2(y1 - y0, x1 - x0);
        ctx.lineTo(x1 - 4 * Math.cos(a - 0.5), y1 - 4 * Math.sin(a - 0.5));
        ctx.moveTo(x1, y1);
        ctx.lineTo(x1 - 4 * Math.cos(a + 0.5), y1 - 4 * Math.sin(a + 0.5));
      }
      ctx.stroke();
    }
    if (frame.centers) {
      frame.centers.forEach(([x, y], i) => {
        const covered = frame.covered && frame.covered[i];
        ctx.beginPath();
        ctx.arc(px(x), py(y), 7, 0, 2 * Math.PI);
        ctx.lineWidth = 2.5;
        ctx.strokeStyle = covered ? "#166534" : "#dc2626";
        ctx.stroke();
        if (covered) { ctx.fillStyle = "rgba(22, 101, 52, 0.35)"; ctx.fill(); }
      });
    }
    for (const key of caption.querySelectorAll(".mode-key")) key.hidden = !frame.centers; // data without modes
    frames++;
    canvas.dataset.step = String(frame.step ?? "");
    canvas.dataset.frames = String(frames);
    const covered = frame.covered ? frame.covered.filter(Boolean).length : null;
    status.textContent = `step ${frame.step}` + (covered === null ? "" : ` · ${covered} of ${frame.centers.length} modes covered`);
  }

  return { element, canvas, draw };
}

function boundsOf(points) {
  const xs = points.map((p) => p[0]), ys = points.map((p) => p[1]);
  return [Math.min(...xs), Math.max(...xs), Math.min(...ys), Math.max(...ys)];
}
