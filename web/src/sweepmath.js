// The logic of the sweep page (GET /api/sweeps/{id}): a metric's heatmap over two of the sweep's axes (mean over
// seeds per square, with its spread), a colour-blind-safe colour scale, labels, and when a tile's thumbnail is due
// for a refresh. Pure: no DOM, no network, no clock (the time is passed in), so node's test runner checks it.

/** JSON text as the key of an axis value: 0.001 and "relu" alike, and 1 apart from "1". */
const key = (value) => JSON.stringify(value);

/** n, mean, min, max and the standard error of the mean (sample s.d. ÷ √n; null for a single value) of `values`;
 * null when there are none. @param {number[]} values */
export function stats(values) {
  const n = values.length;
  if (!n) return null;
  const mean = values.reduce((a, b) => a + b, 0) / n;
  const variance = n > 1 ? values.reduce((a, v) => a + (v - mean) ** 2, 0) / (n - 1) : null;
  return { n, mean, min: Math.min(...values), max: Math.max(...values),
    se: variance === null ? null : Math.sqrt(variance / n) };
}

/**
 * A metric over two axes of a sweep: one square per pair of the axes' values, holding every cell there (seeds, and
 * the values of any other axis, pooled) and the stats of the metric over the cells that report it.
 * `yPath` null gives one row. Rows come highest y first, as a plot's y axis runs upwards; values the sweep does not
 * list are ignored.
 * @param {{path: string, values: any[]}[]} axes
 * @param {{params: Record<string, any>, seed: number, run_id: string|null, metrics: Record<string, any>|null}[]} cells
 * @param {string} metric
 * @param {string} xPath
 * @param {string|null} yPath
 */
export function heatmap(axes, cells, metric, xPath, yPath) {
  const xs = axes.find((a) => a.path === xPath)?.values ?? [null];
  const ys = yPath === null ? [null] : (axes.find((a) => a.path === yPath)?.values ?? [null]).slice().reverse();
  const squares = new Map();
  const rows = ys.map((y) => xs.map((x) => {
    const square = { x, y, cells: [], values: [], stats: null };
    squares.set(`${key(x)}|${key(y)}`, square);
    return square;
  }));
  for (const cell of cells) {
    const x = xPath === null ? null : cell.params[xPath];
    const y = yPath === null ? null : cell.params[yPath];
    const square = squares.get(`${key(x)}|${key(y)}`);
    if (!square) continue;
    square.cells.push(cell);
    const value = cell.metrics?.[metric];
    if (typeof value === "number" && Number.isFinite(value)) square.values.push({ seed: cell.seed, value, runId: cell.run_id });
  }
  for (const row of rows) for (const square of row) square.stats = stats(square.values.map((v) => v.value));
  return { xs, ys, rows };
}

/** The range the colour scale spans: the squares' means; a single value is stretched to 0 (or to 1 from 0), so a
 * lone 0 modes covered reads as the low end and a lone 3.5 as the high end. */
export function colourDomain(map) {
  const means = map.rows.flat().filter((s) => s.stats).map((s) => s.stats.mean);
  if (!means.length) return [0, 1];
  let lo = Math.min(...means), hi = Math.max(...means);
  if (hi - lo < 1e-12) {
    if (lo > 0) lo = 0;
    else if (lo < 0) hi = 0;
    else hi = 1;
  }
  return [lo, hi];
}

// Viridis lives with the page's other colours (colours.js); the heatmap reads it from here as before.
export { viridis, viridisRgb } from "./colours.js";

/** Black or white, whichever reads better on the colour [r, g, b] (WCAG contrast). */
export function inkOn(rgb) {
  const [r, g, b] = rgb.map((c) => { const s = c / 255; return s <= 0.03928 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; });
  const luminance = 0.2126 * r + 0.7152 * g + 0.0722 * b;
  return (luminance + 0.05) / 0.05 >= 1.05 / (luminance + 0.05) ? "#000" : "#fff";
}

/** A number as a label: 3 significant digits, powers of ten for the small learning rates (1e-5, 3.16e-4). */
export function fmt(value) {
  if (typeof value !== "number") return String(value);
  if (!Number.isFinite(value)) return String(value);
  if (value !== 0 && Math.abs(value) < 1e-3) return value.toExponential(2).replace(/\.?0+e/, "e");
  return Number.isInteger(value) ? String(value) : String(+value.toPrecision(3));
}

/** "lr_g 1e-5 · lr_d 0.001": each axis by the last part of its path. */
export function paramsLabel(params) {
  return Object.entries(params).map(([path, v]) => `${path.split(".").pop()} ${fmt(v)}`).join(" · ");
}

/** The summary metrics (in the server's order) that at least one cell reports as a number. */
export function reportedMetrics(names, cells) {
  return names.filter((name) => cells.some((c) => typeof c.metrics?.[name] === "number"));
}

/** The heatmap's metric when the user has not picked one: modes_covered where reported, else the first. */
export function defaultMetric(names) {
  return names.includes("modes_covered") ? "modes_covered" : names[0] ?? null;
}

/** Cells whose run is over, out of all, and how many are in each status ("3 completed, 29 stopped": a stopped
 * sweep's cells are over without having trained to the end), statuses in `order` first (the server's lifecycle
 * order), any other after. `counts` is the sweep's cells per status. */
export function progress(counts, finalStatuses, order = []) {
  let done = 0, total = 0;
  for (const [status, n] of Object.entries(counts || {})) {
    total += n;
    if (finalStatuses.includes(status)) done += n;
  }
  const rank = (status) => (order.includes(status) ? order.indexOf(status) : order.length);
  const breakdown = Object.entries(counts || {}).filter(([, n]) => n > 0)
    .sort(([a], [b]) => rank(a) - rank(b)).map(([status, n]) => `${n} ${status}`).join(", ");
  return { done, total, breakdown };
}

/**
 * Whether a tile's thumbnail is due for a (re)fetch. `last` is what the previous fetch got ({runId, step, at, final},
 * step -1 for a failed one) or undefined. A cell is fetched once its run has passed step 1 (its worker writes the
 * generator's weights at step 1, so step 2 means they exist), again while it trains when its step has moved and
 * `gapMs` have passed (the server rewrites a live run's weights only every few seconds), and one last time when its
 * run is over; never after that.
 */
export function thumbnailDue(last, cell, isFinal, now, gapMs = 3000) {
  if (!cell.run_id || !(cell.step >= 2)) return false;
  if (!last || last.runId !== cell.run_id) return true;
  if (last.final) return false;
  if (now - last.at < gapMs) return false;
  return isFinal || cell.step > last.step;
}
