// The latent-space panel of an AE or VAE run: where its encoder puts a fixed set of data points (each coloured by
// its mode or class, the label written over its cloud), beside where the prior N(0, I) puts its mass (shaded 1σ and
// 2σ circles). An AE's codes land away from that mass, so decoding prior draws lands off the data; a VAE's KL term
// pulls them onto it. The maths is in latent.js; the plane is centred on z = 0.
import { h } from "./dom.js";
import { axisNames, labelCentres, labelColour, labelSpot, latentCaption, latentHalf, latentPoints, latentTransform,
  legendEntries } from "./latent.js";
import { drawGrid, ticks } from "./phase.js";
import { show } from "./schema.js";

const SIZE = 480;
const PRIOR = "rgba(93, 100, 117, 0.9)";
const PRIOR_FILL = "rgba(93, 100, 117, 0.07)"; // each disc adds its shade: darker where the prior is denser

export function createLatentView({ testid = "latent-view" } = {}) {
  const canvas = h("canvas", { class: "field latent", testid, width: SIZE, height: SIZE, role: "img",
    "aria-label": "Latent space: each data point's code, coloured by its mode or class, and the prior's 1σ and 2σ circles" });
  const ctx = canvas.getContext("2d");
  const title = h("h2", { class: "small" }, "Latent space");
  const status = h("div", { class: "muted field-step", testid: "latent-status" }, "waiting for the first frame…");
  const legend = h("div", { class: "field-legend", testid: "latent-legend" });
  const element = h("section", { class: "field-box latent-box", hidden: true }, title, canvas, status, legend);
  let frames = 0;
  let legendKey = "";

  /** Draw the latent part of a frame (a 2D run's field frame or an image run's samples frame); a frame without one
   * leaves the panel as it is. */
  function draw(frame) {
    const points = latentPoints(frame);
    if (!points) return;
    const info = frame.latent_info;
    const { xy, labels, count } = points;
    const radii = info.prior_radii || [1, 2];
    const half = latentHalf(xy, radii);
    const t = latentTransform(half, SIZE);
    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, SIZE, SIZE);
    drawAxes(t, half);
    drawPrior(t, radii);
    for (let i = 0; i < points.n; i++) {
      const x = xy[2 * i], y = xy[2 * i + 1];
      if (!Number.isFinite(x) || !Number.isFinite(y)) continue;
      ctx.fillStyle = labelColour(labels ? labels[i] : null, count, info.label_kind);
      ctx.beginPath(); ctx.arc(t.px(x), t.py(y), 2.4, 0, 2 * Math.PI); ctx.fill();
    }
    const centres = labelCentres(xy, labels, count);
    drawLabels(t, centres, info.label_kind === "mode");
    drawNames(t, axisNames(info));
    frames++;
    element.hidden = false;
    canvas.dataset.frames = String(frames);
    canvas.dataset.step = String(frame.step ?? "");
    canvas.dataset.points = String(points.n);
    canvas.dataset.labels = String(centres.length);
    canvas.dataset.axes = (info.axes || []).join(",");
    status.textContent = latentCaption(info, frame.step);
    renderLegend(info);
  }

  function drawAxes(t, half) {
    const [x0, x1, y0, y1] = [t.left, t.left + t.span, t.top, t.top + t.span]; // the plotted square
    drawGrid(ctx, t, ticks(half), [x0, x1, y0, y1], show);
    ctx.strokeStyle = "#b9bfcc";
    ctx.beginPath();
    ctx.moveTo(x0, t.py(0)); ctx.lineTo(x1, t.py(0));
    ctx.moveTo(t.px(0), y0); ctx.lineTo(t.px(0), y1);
    ctx.stroke();
  }

  /** The prior's circles, outer first, each disc lightly shaded, named by its σ. */
  function drawPrior(t, radii) {
    ctx.setLineDash([5, 4]);
    ctx.lineWidth = 1.3;
    ctx.strokeStyle = PRIOR;
    ctx.fillStyle = PRIOR_FILL;
    for (const r of [...radii].sort((a, b) => b - a)) {
      ctx.beginPath(); ctx.arc(t.px(0), t.py(0), r * t.scale, 0, 2 * Math.PI); ctx.fill(); ctx.stroke();
    }
    ctx.setLineDash([]);
    ctx.fillStyle = PRIOR;
    ctx.font = "11px system-ui, sans-serif";
    ctx.textAlign = "left"; ctx.textBaseline = "bottom";
    for (const r of radii) {
      const a = Math.PI / 4; // on the upper right of each circle
      ctx.fillText(`${show(r)}σ`, t.px(r * Math.cos(a)) + 3, t.py(r * Math.sin(a)) - 1);
    }
  }

  /** Each label beside its points (further out from z = 0), haloed so it reads over any other cloud. */
  function drawLabels(t, centres, modes) {
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "middle";
    ctx.lineWidth = 3.5;
    ctx.strokeStyle = "rgba(255, 255, 255, 0.9)";
    ctx.fillStyle = "#1f2330";
    for (const c of centres) {
      const text = modes ? `m${c.label}` : String(c.label);
      const [x, y] = labelSpot(t.px(c.x), t.py(c.y), t.px(0), t.py(0));
      ctx.strokeText(text, x, y);
      ctx.fillText(text, x, y);
    }
  }

  /** The axes' names in the margins: across under the tick labels, up beside them, reading upwards. */
  function drawNames(t, [across, up]) {
    ctx.fillStyle = "#1f2330";
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    ctx.fillText(across, t.left + t.span / 2, SIZE - 4);
    if (!up) return;
    ctx.save();
    ctx.translate(14, t.top + t.span / 2);
    ctx.rotate(-Math.PI / 2);
    ctx.textBaseline = "middle";
    ctx.fillText(up, 0, 0);
    ctx.restore();
  }

  /** The labels' colours and the prior's circles, rebuilt only when what they say changes. */
  function renderLegend(info) {
    const entries = legendEntries(info);
    const key = JSON.stringify([entries, info.prior_radii]);
    if (key === legendKey) return;
    legendKey = key;
    const prior = h("span", {}, swatch(null, true), `prior N(0, I): ${(info.prior_radii || [1, 2]).map((r) => `${show(r)}σ`).join(" and ")} circles`);
    legend.replaceChildren(...entries.map((e) => h("span", {}, e.colour ? swatch(e.colour) : "", e.text)), prior);
  }

  return { element, canvas, draw };
}

/** A legend's colour key: a dot in the label's colour, or a dashed ring for the prior. */
function swatch(colour, ring = false) {
  const s = h("span", { "aria-hidden": "true" });
  Object.assign(s.style, { display: "inline-block", width: "9px", height: "9px", borderRadius: "50%",
    marginRight: ".3rem", verticalAlign: "-1px", boxSizing: "border-box" });
  if (ring) s.style.border = `1.5px dashed ${PRIOR}`;
  else s.style.background = colour;
  return s;
}
