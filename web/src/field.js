// The 2D field view, as in GAN Lab: D's verdict over the plane as a heatmap (orange "fake", white, blue "real"),
// real data, generated samples, the direction G's loss pulls each sample, and mode centres marked covered
// (filled blue) or not (hollow vermillion ring). Colours come from colours.js, chosen to survive colour-blindness.
// A run without a discriminator (AE, VAE, MADE) has no heatmap and no pull: those layers, their legend keys and
// the manifold where the family has no latent code are left out (fieldlayers.js says which).
// Our own canvas code: no library draws this.
import { heatGradient, heatRgb, POINTS, QUALITY } from "./colours.js";
import { h } from "./dom.js";
import { fieldLayers, MANIFOLD_TEXT } from "./fieldlayers.js";
import { manifoldLines } from "./manifold.js";
import { flat } from "./wire.js";

const REAL = POINTS.real;
const FAKE = POINTS.fake;
const ARROW = "rgba(25, 10, 55, 0.6)";
const MANIFOLD = "rgba(194, 65, 12, 0.75)"; // G's warped latent grid: orange, apart from D's purple-green heatmap

/** D's readout in [0, 1] → its heatmap colour: a perceptually even scale, so equal steps of D look equal. */
const heat = heatRgb;

export function createFieldView({ testid = "field-view", size = 360 } = {}) {
  const canvas = h("canvas", { class: "field", testid, width: size, height: size,
    role: "img", "aria-label": "Field view: real data, generated samples, D's heatmap and G's gradient arrows" });
  const heatCanvas = document.createElement("canvas");
  const ctx = canvas.getContext("2d");
  const arrowKey = h("span", { class: "key arrow", testid: "pull-key" }, "G's pull");
  const heatKey = h("span", { class: "key heat", testid: "heat-key" }, "D: fake → real");
  const manifoldKey = h("span", { class: "key manifold", testid: "manifold-key", hidden: true }, MANIFOLD_TEXT.generator.key);
  const caption = h("div", { class: "field-legend", testid: "field-legend" },
    h("span", { class: "key real" }, "real data"), h("span", { class: "key fake" }, "generated"), arrowKey, heatKey,
    h("span", { class: "key covered mode-key" }, "mode covered"), h("span", { class: "key missed mode-key" }, "mode missed"),
    manifoldKey);
  // The legend's keys take their colours from the same table the canvas draws with (style.css reads these).
  for (const [name, value] of [["--heat", heatGradient()], ["--real", REAL], ["--fake", FAKE], ["--good", QUALITY.good], ["--bad", QUALITY.bad], ["--manifold", MANIFOLD]]) {
    caption.style.setProperty(name, value);
  }
  const status = h("div", { class: "muted field-step" }, "waiting for the first frame…");
  // The generator's (or decoder's) manifold (its image of a latent grid, models/manifold.py), a layer switched on here.
  const manifoldToggle = h("input", { type: "checkbox", testid: "manifold-toggle" });
  const manifoldName = h("span", {}, MANIFOLD_TEXT.generator.label);
  const manifoldSwitch = h("label", { class: "manifold-switch small", testid: "manifold-switch", hidden: true,
    title: MANIFOLD_TEXT.generator.title }, manifoldToggle, " ", manifoldName);
  const element = h("div", { class: "field-box" }, canvas, status, manifoldSwitch, caption);
  let frames = 0;
  let last = null; // the frame and options drawn last: the manifold switch redraws them
  manifoldToggle.addEventListener("change", () => { if (last) draw(last.frame, last.options); });

  /** Draw one `field` frame (or a `samples` frame of points, which has no heatmap). Its arrays are flat in
   * row-major order, as a binary frame brings them (wire.js); nested lists are flattened first. `model` (a
   * fieldlayers.js FieldModel, from the run's family) leaves out layers the model has not; without it the frame
   * alone decides. */
  function draw(frame, options = {}) {
    const { showReal = true, showArrows = true, showHeat = true, model = null } = options;
    last = { frame, options };
    const layers = fieldLayers(frame, model);
    const W = canvas.width;
    const samples = flat(frame.samples || frame.points) || new Float32Array(0); // [x0, y0, x1, y1, …]
    const real = flat(frame.real), directions = flat(frame.directions), centers = flat(frame.centers);
    const [xmin, xmax, ymin, ymax] = frame.bounds || boundsOf(samples);
    const span = Math.max(xmax - xmin, ymax - ymin);
    const cx = (xmin + xmax) / 2, cy = (ymin + ymax) / 2;
    const px = (x) => ((x - cx) / span + 0.5) * W;
    const py = (y) => (0.5 - (y - cy) / span) * W;
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, W, W);
    if (showHeat && layers.heat) {
      const R = frame.resolution;
      const d = flat(frame.d); // R rows of R, row 0 at ymin
      heatCanvas.width = R; heatCanvas.height = R;
      const hctx = heatCanvas.getContext("2d");
      const image = hctx.createImageData(R, R);
      let lo = Infinity, hi = -Infinity;
      for (const v of d) { if (v < lo) lo = v; if (v > hi) hi = v; }
      const unit = lo >= 0 && hi <= 1; // a sigmoid readout; other losses' critics are rescaled to [0, 1]
      if (unit) { lo = 0; hi = 1; }
      for (let row = 0; row < R; row++) {
        for (let col = 0; col < R; col++) {
          const v = (d[row * R + col] - lo) / (hi - lo || 1);
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
    if (showReal && real) {
      ctx.fillStyle = REAL;
      for (let i = 0; i < real.length; i += 2) ctx.fillRect(px(real[i]) - 1.5, py(real[i + 1]) - 1.5, 3, 3);
    }
    ctx.fillStyle = FAKE;
    for (let i = 0; i < samples.length; i += 2) {
      ctx.beginPath(); ctx.arc(px(samples[i]), py(samples[i + 1]), 2.2, 0, 2 * Math.PI); ctx.fill();
    }
    if (showArrows && layers.pull) {
      ctx.strokeStyle = ARROW;
      ctx.lineWidth = 1;
      ctx.beginPath();
      const len = W * 0.035;
      for (let i = 0; i < samples.length; i += 4) { // every other sample: arrows stay legible
        const x0 = px(samples[i]), y0 = py(samples[i + 1]);
        const x1 = x0 + directions[i] * len, y1 = y0 - directions[i + 1] * len;
        ctx.moveTo(x0, y0); ctx.lineTo(x1, y1);
        const a = Math.atan2(y1 - y0, x1 - x0);
        ctx.lineTo(x1 - 4 * Math.cos(a - 0.5), y1 - 4 * Math.sin(a - 0.5));
        ctx.moveTo(x1, y1);
        ctx.lineTo(x1 - 4 * Math.cos(a + 0.5), y1 - 4 * Math.sin(a + 0.5));
      }
      ctx.stroke();
    }
    const lines = manifoldToggle.checked && layers.manifold
      ? manifoldLines(frame.manifold, frame.manifold_shape || frame.shapes?.manifold) : [];
    if (lines.length) {
      ctx.strokeStyle = MANIFOLD;
      ctx.lineWidth = 1.2;
      ctx.beginPath();
      for (const line of lines) line.forEach(([x, y], i) => (i ? ctx.lineTo(px(x), py(y)) : ctx.moveTo(px(x), py(y))));
      ctx.stroke();
    }
    manifoldSwitch.hidden = !layers.manifold;
    if (layers.manifold) {
      manifoldName.textContent = layers.manifold.label;
      manifoldSwitch.title = layers.manifold.title;
      manifoldKey.textContent = layers.manifold.key;
    }
    manifoldKey.hidden = !lines.length; // named while it is drawn
    heatKey.hidden = !layers.heat;
    arrowKey.hidden = !layers.pull;
    canvas.setAttribute("aria-label", layers.aria);
    canvas.dataset.layers = [layers.heat && "heat", layers.pull && "pull", layers.manifold && "manifold"].filter(Boolean).join(",");
    canvas.dataset.manifoldLines = String(lines.length);
    if (centers) {
      for (let i = 0; i < centers.length / 2; i++) {
        const covered = frame.covered && frame.covered[i];
        ctx.beginPath();
        ctx.arc(px(centers[2 * i]), py(centers[2 * i + 1]), 7, 0, 2 * Math.PI);
        ctx.lineWidth = 2.5;
        ctx.strokeStyle = covered ? QUALITY.good : QUALITY.bad;
        ctx.stroke();
        if (covered) { ctx.globalAlpha = 0.35; ctx.fillStyle = QUALITY.good; ctx.fill(); ctx.globalAlpha = 1; }
      }
    }
    for (const key of caption.querySelectorAll(".mode-key")) key.hidden = !centers; // data without modes
    frames++;
    canvas.dataset.step = String(frame.step ?? "");
    canvas.dataset.frames = String(frames);
    canvas.dataset.real = String(real && showReal ? real.length / 2 : 0); // real points drawn (sent once per run)
    const covered = frame.covered ? frame.covered.filter(Boolean).length : null;
    status.textContent = `step ${frame.step}` + (covered === null || !centers ? "" : ` · ${covered} of ${centers.length / 2} modes covered`);
  }

  return { element, canvas, draw };
}

/** [xmin, xmax, ymin, ymax] of flat [x0, y0, x1, y1, …] points. */
function boundsOf(points) {
  const out = [Infinity, -Infinity, Infinity, -Infinity];
  for (let i = 0; i < points.length; i += 2) {
    out[0] = Math.min(out[0], points[i]); out[1] = Math.max(out[1], points[i]);
    out[2] = Math.min(out[2], points[i + 1]); out[3] = Math.max(out[3], points[i + 1]);
  }
  return out;
}
