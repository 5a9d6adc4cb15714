// The latent-space panel's maths: an AE or VAE run's frames carry `latent` (each of a fixed set of data points'
// code, or its projection onto the codes' first two principal components) and `latent_info` (axes, labels, the
// prior's circles; models/latent.py). Here: which square of the plane to show, each label's colour and legend
// entry, where to write each label, and the captions. Pure: no DOM, so node's test runner checks it as the page
// uses it; latentview.js draws.
import { OKABE_ITO, viridisRgb } from "./colours.js";
import { flat } from "./wire.js";

export const LEGEND_MAX = 12; // more labels than this (a 5×5 grid's 25 modes) are keyed by their two ends
const UNLABELLED = OKABE_ITO.blue; // data without modes or classes
const SCALE_END = 0.88; // viridis stops short of its palest yellow, which vanishes on the white canvas
// Classes have no order, so they get colours told apart rather than a scale: Paul Tol's "muted" scheme, made for
// colour-blind readers (its 9 colours, then black, which none of them is close to).
const CLASS_COLOURS = ["#332288", "#88ccee", "#44aa99", "#117733", "#999933", "#ddcc77", "#cc6677", "#882255",
  "#aa4499", "#000000"];
/** Pixels around the plotted square: tick labels and the axes' names to the left and below, a little elsewhere. */
export const MARGIN = { left: 44, right: 10, top: 10, bottom: 44 };

/** The frame's points, flat [x0, y0, x1, y1, …] (as a binary frame brings them, or flattened from JSON), and their
 * labels (or null), with how many labels there can be. A frame without a latent part gives null. */
export function latentPoints(frame) {
  const xy = flat(frame?.latent);
  if (!xy || !frame.latent_info) return null;
  const info = frame.latent_info;
  const n = xy.length / 2;
  const labels = Array.isArray(info.labels) && info.labels.length === n ? info.labels : null;
  return { xy, labels, count: labels ? Math.max(info.label_count || 0, ...labels.map((l) => l + 1)) : 0, n };
}

/** Half the side of the square shown, centred on z = 0 (where the prior is): the prior's outer circle and every
 * point, with a margin, rounded up to a half so the view does not creep a little with every frame. */
export function latentHalf(xy, radii = [1, 2]) {
  let reach = Math.max(0, ...radii.filter(Number.isFinite));
  for (let i = 0; i < xy.length; i++) if (Number.isFinite(xy[i])) reach = Math.max(reach, Math.abs(xy[i]));
  return Math.max(0.5, Math.ceil(reach * 1.1 * 2) / 2);
}

/** World ↔ pixel for the square plot of [−half, half]² in a `size` px canvas, inside `margin` (y grows upwards).
 * The scale is one for both axes, so the prior's circles are circles. */
export function latentTransform(half, size, margin = MARGIN) {
  const span = Math.min(size - margin.left - margin.right, size - margin.top - margin.bottom);
  const scale = span / (2 * half);
  return {
    scale, span, left: margin.left, top: margin.top,
    px: (x) => margin.left + (x + half) * scale,
    py: (y) => margin.top + (half - y) * scale,
  };
}

/** A label's colour as [r, g, b]: for modes viridis along their order (neighbouring modes of a ring get
 * neighbouring colours, so the picture shows whether the encoder keeps the ring's order); for up to 10 classes
 * colours told apart; for more, viridis too; one blue when there are no labels. */
export function labelRgb(label, count, kind = "mode") {
  if (!(count > 0) || label === null || label === undefined) return hexRgb(UNLABELLED);
  if (kind === "class" && count <= CLASS_COLOURS.length) return hexRgb(CLASS_COLOURS[label] ?? UNLABELLED);
  return viridisRgb(count === 1 ? 0 : (label / (count - 1)) * SCALE_END);
}

export const labelColour = (label, count, kind = "mode") => `rgb(${labelRgb(label, count, kind).join(", ")})`;

function hexRgb(hex) {
  return [1, 3, 5].map((i) => parseInt(hex.slice(i, i + 2), 16));
}

/** A label's name: "mode 3" for mixture data, the class number for images (a digit is its own name). */
export function labelName(label, kind) {
  return kind === "mode" ? `mode ${label}` : kind === "class" ? `class ${label}` : "data point";
}

/** The legend's entries: each label's name and colour, in order; past `LEGEND_MAX` labels the first and the last
 * with an ellipsis between (`colour` null); one entry for unlabelled data. */
export function legendEntries(info, max = LEGEND_MAX) {
  const count = info?.labels ? info.label_count || 0 : 0;
  if (!count) return [{ text: "data point", colour: labelColour(null, 0) }];
  const entry = (i) => ({ text: labelName(i, info.label_kind), colour: labelColour(i, count, info.label_kind) });
  if (count <= max) return Array.from({ length: count }, (_, i) => entry(i));
  return [entry(0), { text: "…", colour: null }, entry(count - 1)];
}

/** Where each label's points are: the mean of their positions, with how many there are. Labels with no point in
 * the frame are left out. */
export function labelCentres(xy, labels, count) {
  if (!labels) return [];
  const sums = Array.from({ length: count }, () => [0, 0, 0]);
  labels.forEach((label, i) => {
    const s = sums[label];
    if (!s || !Number.isFinite(xy[2 * i]) || !Number.isFinite(xy[2 * i + 1])) return;
    s[0] += xy[2 * i]; s[1] += xy[2 * i + 1]; s[2] += 1;
  });
  return sums.flatMap(([x, y, n], label) => (n ? [{ label, x: x / n, y: y / n, n }] : []));
}

/** The two axes' names: "z1", "z2" for a 2D code, or "PC1 (31% of the codes' variance)" for a projected one. */
export function axisNames(info) {
  const axes = info?.axes || ["z1", "z2"];
  return axes.map((name, i) => (name && info?.explained ? `${name} (${Math.round(info.explained[i] * 100)}% of the codes' variance)` : name || ""));
}

/** What the points are and what the circles mean, for the line under the picture. */
export function latentCaption(info, step) {
  if (!info) return "";
  const what = info.encoding === "mean" ? "μ of q(z|x)" : "code z";
  const how = info.explained ? `, projected from ${info.z_dim} dimensions onto the codes' first two principal components` : "";
  const mass = info.prior_mass || [];
  const inside = Number.isFinite(info.inside_2sigma) ? `${Math.round(info.inside_2sigma * 100)}%` : "?";
  return `step ${step ?? "?"} · each point is a data point's ${what}${how} · the prior N(0, I) holds `
    + `${Math.round((mass[0] ?? 0) * 100)}% of its mass inside the inner circle and ${Math.round((mass[1] ?? 0) * 100)}% `
    + `inside the outer one; ${inside} of the codes lie inside the outer one`;
}

/** Where to write a label whose points centre on pixel (x, y): `gap` px further out from the origin's pixel
 * (ox, oy), so it sits beside its cloud, not over it; at the origin itself, above it. */
export function labelSpot(x, y, ox, oy, gap = 16) {
  const dx = x - ox, dy = y - oy;
  const d = Math.hypot(dx, dy);
  return d < 1e-9 ? [x, y - gap] : [x + (dx / d) * gap, y + (dy / d) * gap];
}
