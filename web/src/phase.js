// The maths of the Dirac-GAN's phase portrait (Mescheder et al. 2018, Fig. 1): which square of the (θ, ψ) plane
// to show, where a point of it lands on the canvas, how long to draw each arrow of the update field, and how many
// points of a long trajectory to draw. Pure: no DOM, so node's test runner checks it as the page uses it.

/** Half the side of the square the portrait shows, centred on the equilibrium (0, 0): the field frame's own square
 * and every point of the trajectory with a margin, never less than `least`, rounded up to a half so the view does
 * not creep a little at every new point.
 * @param {number[] | null | undefined} bounds the field frame's [θmin, θmax, ψmin, ψmax], or none yet
 * @param {[number, number][]} points the trajectory
 */
export function viewHalf(bounds, points, least = 2) {
  let far = 0;
  if (bounds) for (const b of bounds) if (Number.isFinite(b)) far = Math.max(far, Math.abs(b));
  let reach = 0;
  for (const [t, p] of points) {
    if (Number.isFinite(t)) reach = Math.max(reach, Math.abs(t));
    if (Number.isFinite(p)) reach = Math.max(reach, Math.abs(p));
  }
  return Math.max(least, far, Math.ceil(reach * 1.1 * 2) / 2);
}

/** World ↔ pixel for a square canvas of `size` px showing [−half, half]² with `pad` px left for the axis labels
 * (ψ grows upwards, as in the paper's figure). */
export function transform(half, size, pad = 0) {
  const span = size - 2 * pad;
  const scale = span / (2 * half);
  return {
    scale,
    px: (theta) => pad + (theta + half) * scale,
    py: (psi) => pad + (half - psi) * scale,
    theta: (x) => (x - pad) / scale - half,
    psi: (y) => half - (y - pad) / scale,
  };
}

/** The arrows of a field frame in pixels: each grid point's (dθ, dψ) as a start [x, y] and an offset [dx, dy]
 * (dy downwards). The longest arrow spans `fill` of the grid spacing, and a length grows with the square root of the
 * vector's norm, so the weak pull near the equilibrium still shows its direction while the strong one far out still
 * looks stronger. A zero vector has no arrow.
 * @param {{theta: number[], psi: number[], vectors: [number, number][][] | Float32Array}} frame `vectors` as
 *   nested rows, or flat in row-major order as a binary frame brings them (wire.js)
 * @param {ReturnType<typeof transform>} t
 */
export function arrows(frame, t, fill = 0.85) {
  const { theta, psi, vectors } = frame;
  if (!theta || !psi || !vectors || theta.length < 2) return [];
  const at = ArrayBuffer.isView(vectors)
    ? (i, j) => [vectors[(i * theta.length + j) * 2], vectors[(i * theta.length + j) * 2 + 1]]
    : (i, j) => vectors[i][j];
  let longest = 0;
  psi.forEach((_, i) => theta.forEach((_, j) => { longest = Math.max(longest, Math.hypot(...at(i, j))); }));
  if (!(longest > 0)) return [];
  const spacing = Math.abs(t.px(theta[1]) - t.px(theta[0]));
  const out = [];
  psi.forEach((p, i) => {
    theta.forEach((th, j) => {
      const [a, b] = at(i, j);
      const norm = Math.hypot(a, b);
      if (!(norm > 0)) return;
      const length = spacing * fill * Math.sqrt(norm / longest);
      out.push({ x: t.px(th), y: t.py(p), dx: (a / norm) * length, dy: (-b / norm) * length, norm });
    });
  });
  return out;
}

/** The trajectory as [θ, ψ] pairs from the metric history's two columns (rows where either is missing skipped). */
export function trajectory(thetas, psis) {
  const out = [];
  const n = Math.min(thetas?.length ?? 0, psis?.length ?? 0);
  for (let i = 0; i < n; i++) {
    const t = thetas[i], p = psis[i];
    if (typeof t === "number" && typeof p === "number" && Number.isFinite(t) && Number.isFinite(p)) out.push([t, p]);
  }
  return out;
}

/** At most `max` points of a long trajectory for drawing: an even stride through it, the first and the newest
 * point always kept, so the path's shape and where it is now survive however long the run trains. */
export function thin(points, max = 3000) {
  if (points.length <= max) return points;
  const stride = Math.ceil((points.length - 1) / (max - 1));
  const out = [];
  for (let i = 0; i < points.length - 1; i += stride) out.push(points[i]);
  out.push(points[points.length - 1]);
  return out;
}

/** Round tick values in [−half, half] for the axes: about four either side of 0, 0 included. */
export function ticks(half) {
  const raw = half / 4;
  const power = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((m) => m * power).find((s) => s >= raw) ?? raw;
  const out = [];
  for (let v = -Math.floor(half / step) * step; v <= half + 1e-9; v += step) out.push(+v.toFixed(10));
  return out;
}

/**
 * A square plot's light grid at `values` on both axes, with the values written below and to the left of the
 * square [x0, x1] × [y0, y1] (canvas pixels). Shared by the phase portrait and the latent view.
 * @param {CanvasRenderingContext2D} ctx @param {{px: (v: number) => number, py: (v: number) => number}} t
 * @param {number[]} values @param {[number, number, number, number]} square @param {(v: number) => string} label
 */
export function drawGrid(ctx, t, values, [x0, x1, y0, y1], label) {
  ctx.font = "11px system-ui, sans-serif";
  ctx.lineWidth = 1;
  ctx.strokeStyle = "#eceef3";
  ctx.fillStyle = "#5d6475";
  ctx.beginPath();
  for (const v of values) {
    ctx.moveTo(t.px(v), y0); ctx.lineTo(t.px(v), y1);
    ctx.moveTo(x0, t.py(v)); ctx.lineTo(x1, t.py(v));
  }
  ctx.stroke();
  ctx.textAlign = "center"; ctx.textBaseline = "top";
  for (const v of values) ctx.fillText(label(v), t.px(v), y1 + 4);
  ctx.textAlign = "right"; ctx.textBaseline = "middle";
  for (const v of values) ctx.fillText(label(v), x0 - 4, t.py(v));
}
