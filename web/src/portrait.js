// The Dirac-GAN's phase portrait, drawn as the paper's Fig. 1 (Mescheder et al. 2018): the (θ, ψ) plane with its
// axes through the equilibrium (0, 0), the update vector field of the run's current loss and tricks as arrows (from
// the newest field frame, so a live change of r1_gamma or instance noise redraws them), the trajectory of the two
// parameters from the metric history, older parts fainter, and where the run stands now. The maths is in phase.js.
import { h } from "./dom.js";
import { arrows, drawGrid, thin, ticks, trajectory, transform, viewHalf } from "./phase.js";
import { show } from "./schema.js";
import { fmt } from "./sweepmath.js";

const PAD = 30; // px kept for the tick labels
const ARROW = "#5b6478";
const PATH = "#d55e00"; // vermillion and blue: told apart with any colour vision (Okabe & Ito)
const NOW = "#0072b2";
const EQUILIBRIUM = "#009e73";
const FADE_CHUNKS = 24; // the trajectory is drawn in this many pieces, from faint (oldest) to solid (newest)

export function createPortrait({ testid = "phase-portrait" } = {}) {
  const canvas = h("canvas", { class: "portrait", testid, width: 520, height: 520, role: "img",
    "aria-label": "Phase portrait: the generator's θ across, the discriminator's ψ up, the update field as arrows "
      + "and the path the two parameters have taken" });
  const ctx = canvas.getContext("2d");
  const status = h("div", { class: "muted field-step", testid: "portrait-status" }, "waiting for the first step…");
  const omitted = h("div", { class: "small warn-text", testid: "portrait-omitted", hidden: true });
  const caption = h("div", { class: "field-legend" },
    h("span", { class: "key path" }, "path of (θ, ψ), older fainter"), h("span", { class: "key now" }, "now"),
    h("span", { class: "key arrow" }, "update direction"), h("span", { class: "key equilibrium" }, "equilibrium (0, 0)"));
  const element = h("div", { class: "field-box portrait-box" }, canvas, status, omitted, caption);
  let frames = 0;
  let field = null;

  /** Redraw from the run's metric columns (θ and ψ per step) and the newest field frame (or none yet). */
  function draw(thetas, psis, frame) {
    if (frame && frame !== field) { field = frame; frames++; }
    const size = Math.round(canvas.clientWidth) || 520;
    const ratio = window.devicePixelRatio || 1;
    if (canvas.width !== Math.round(size * ratio)) { canvas.width = canvas.height = Math.round(size * ratio); }
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const path = trajectory(thetas, psis);
    const half = viewHalf(field?.bounds, path);
    const t = transform(half, size, PAD);

    ctx.fillStyle = "#fff";
    ctx.fillRect(0, 0, size, size);
    drawAxes(t, half, size);
    const drawn = field ? drawArrows(t) : 0;
    drawPath(t, thin(path));
    drawNames(t, size);
    const now = path.length ? path[path.length - 1] : field?.point;
    if (now) {
      ctx.beginPath(); ctx.arc(t.px(now[0]), t.py(now[1]), 6, 0, 2 * Math.PI);
      ctx.fillStyle = NOW; ctx.fill(); ctx.lineWidth = 2; ctx.strokeStyle = "#fff"; ctx.stroke();
    }

    canvas.dataset.frames = String(frames);
    canvas.dataset.points = String(path.length);
    canvas.dataset.arrows = String(drawn);
    canvas.dataset.step = String(field?.step ?? "");
    canvas.dataset.r1Gamma = String(field?.r1_gamma ?? "");
    canvas.dataset.noiseStd = String(field?.noise_std ?? "");
    const distance = now ? Math.hypot(now[0], now[1]) : null;
    canvas.dataset.distance = distance === null ? "" : String(distance);
    status.textContent = [
      now ? `θ ${fmt(now[0])}, ψ ${fmt(now[1])} · distance from equilibrium ${fmt(distance)}` : "no step yet",
      field ? `field of step ${field.step}: ${field.loss} loss, R1 γ ${show(field.r1_gamma)}, instance noise σ ${show(field.noise_std)}` : null,
    ].filter(Boolean).join(" · ");
    const left = field?.omitted || [];
    omitted.hidden = !left.length;
    omitted.textContent = left.length ? `The arrows leave out ${left.join(", ")}: they depend on the run's history, not on (θ, ψ) alone.` : "";
  }

  function drawAxes(t, half, size) {
    drawGrid(ctx, t, ticks(half), [PAD, size - PAD, PAD, size - PAD], show);
    // The axes through the equilibrium, named as the paper names them.
    ctx.strokeStyle = "#1f2330";
    ctx.lineWidth = 1.2;
    ctx.beginPath();
    ctx.moveTo(PAD, t.py(0)); ctx.lineTo(size - PAD, t.py(0));
    ctx.moveTo(t.px(0), PAD); ctx.lineTo(t.px(0), size - PAD);
    ctx.stroke();
    ctx.beginPath(); ctx.arc(t.px(0), t.py(0), 5, 0, 2 * Math.PI);
    ctx.lineWidth = 2; ctx.strokeStyle = EQUILIBRIUM; ctx.stroke();
  }

  /** The axes' names, over the arrows. */
  function drawNames(t, size) {
    ctx.fillStyle = "#1f2330";
    ctx.font = "600 12px system-ui, sans-serif";
    ctx.strokeStyle = "rgba(255, 255, 255, 0.85)"; // a halo, so the names stay legible over the arrows
    ctx.lineWidth = 4;
    ctx.textAlign = "right"; ctx.textBaseline = "bottom";
    ctx.strokeText("θ (generator)", size - PAD - 2, t.py(0) - 3);
    ctx.fillText("θ (generator)", size - PAD - 2, t.py(0) - 3);
    ctx.textAlign = "left"; ctx.textBaseline = "top";
    ctx.strokeText("ψ (discriminator)", t.px(0) + 4, PAD + 2);
    ctx.fillText("ψ (discriminator)", t.px(0) + 4, PAD + 2);
  }

  function drawArrows(t) {
    const list = arrows(field, t);
    ctx.strokeStyle = ARROW;
    ctx.fillStyle = ARROW;
    ctx.lineWidth = 1.1;
    ctx.beginPath();
    for (const a of list) {
      const x1 = a.x + a.dx, y1 = a.y + a.dy;
      ctx.moveTo(a.x, a.y); ctx.lineTo(x1, y1);
      const angle = Math.atan2(a.dy, a.dx);
      const head = Math.min(5, Math.hypot(a.dx, a.dy) * 0.45);
      ctx.moveTo(x1, y1); ctx.lineTo(x1 - head * Math.cos(angle - 0.45), y1 - head * Math.sin(angle - 0.45));
      ctx.moveTo(x1, y1); ctx.lineTo(x1 - head * Math.cos(angle + 0.45), y1 - head * Math.sin(angle + 0.45));
    }
    ctx.stroke();
    return list.length;
  }

  function drawPath(t, points) {
    if (!points.length) return;
    ctx.strokeStyle = PATH;
    ctx.lineWidth = 1.8;
    ctx.lineJoin = "round";
    // Faded by the share of the path's length drawn so far, not by step: a run that has settled at the equilibrium
    // adds steps but no length, and its spiral in must stay clear, while laps of a circle fade lap by lap.
    const along = [0];
    for (let i = 1; i < points.length; i++) {
      along.push(along[i - 1] + Math.hypot(points[i][0] - points[i - 1][0], points[i][1] - points[i - 1][1]));
    }
    const total = along[along.length - 1] || 1;
    const chunk = Math.max(1, Math.ceil(points.length / FADE_CHUNKS));
    for (let start = 0; start < points.length - 1; start += chunk) {
      const end = Math.min(points.length - 1, start + chunk);
      ctx.globalAlpha = 0.3 + 0.7 * (along[end] / total);
      ctx.beginPath();
      ctx.moveTo(t.px(points[start][0]), t.py(points[start][1]));
      for (let i = start + 1; i <= end; i++) ctx.lineTo(t.px(points[i][0]), t.py(points[i][1]));
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    const [t0, p0] = points[0]; // where it started: a hollow ring
    ctx.beginPath(); ctx.arc(t.px(t0), t.py(p0), 4, 0, 2 * Math.PI);
    ctx.lineWidth = 1.5; ctx.strokeStyle = PATH; ctx.stroke();
  }

  return { element, canvas, draw };
}
