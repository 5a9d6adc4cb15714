// Every colour that carries meaning on the page, in one table, chosen to survive colour-blindness: scales are
// perceptually uniform (their lightness rises evenly, so they read in grey too) and pairs that must be told apart
// (good/bad, real/fake, problem/fix) differ in lightness and along the blue–yellow axis that red–green colour
// blindness keeps. Pure: no DOM, so node's test runner checks the claims (web/test/colours.test.js).

// Viridis (van der Walt & Smith, matplotlib's default), 11 stops from 0 to 1.
const VIRIDIS = [[68, 1, 84], [72, 36, 117], [65, 68, 135], [53, 95, 141], [42, 120, 142], [33, 145, 140],
  [34, 168, 132], [68, 191, 112], [122, 209, 81], [189, 223, 38], [253, 231, 37]];
// Cividis (Nuñez, Anderton & Renslow 2018): viridis re-optimised to look the same to people with red–green colour
// blindness; 6 stops from 0 to 1, dark blue to yellow.
const CIVIDIS = [[0, 34, 78], [53, 69, 108], [102, 105, 112], [148, 142, 119], [200, 184, 102], [254, 232, 56]];

/** A colour scale's [r, g, b] at t ∈ [0, 1] (clamped; not-a-number is 0), linear between its stops. */
function along(stops, t) {
  const x = Math.max(0, Math.min(1, Number.isFinite(t) ? t : 0)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(x));
  const f = x - i;
  return stops[i].map((c, k) => Math.round(c + (stops[i + 1][k] - c) * f));
}

/** Viridis at t ∈ [0, 1] as [r, g, b]. */
export const viridisRgb = (t) => along(VIRIDIS, t);
/** Viridis at t as CSS. */
export const viridis = (t) => `rgb(${viridisRgb(t).join(", ")})`;
/** Cividis at t ∈ [0, 1] as [r, g, b]. */
export const cividisRgb = (t) => along(CIVIDIS, t);

// The D heatmap: a diverging scale, orange ("fake") through white ("undecided", D = 0.5) to blue ("real"), the
// blue–orange pair Light & Bartlein (2004) recommend because red–green colour blindness keeps it. Orange for fake
// puts the vermillion ring of a missed mode (where D says "real") on blue, and the blue mark of a covered one on
// orange. Each arm runs in
// a straight line through CIELAB from white to its end, so its lightness falls evenly; both ends are equally light,
// so neither side looks more important. Light ends keep the points drawn on top legible.
const HEAT_WHITE = [98, 0, 0];
const HEAT_FAKE = [75, 20, 56]; // CIELAB (L*, a*, b*)
const HEAT_REAL = [75, -6, -32];

/** CIELAB (D65) → [r, g, b] in 0–255, clipped to the sRGB gamut. */
export function labToRgb([L, a, b]) {
  const fy = (L + 16) / 116, fx = fy + a / 500, fz = fy - b / 200;
  const inv = (f) => (f ** 3 > 0.008856 ? f ** 3 : (f - 16 / 116) / 7.787);
  const [x, y, z] = [inv(fx) * 0.95047, inv(fy), inv(fz) * 1.08883];
  const lin = [3.2406 * x - 1.5372 * y - 0.4986 * z, -0.9689 * x + 1.8758 * y + 0.0415 * z, 0.0557 * x - 0.204 * y + 1.057 * z];
  return lin.map((c) => {
    const v = c <= 0.0031308 ? 12.92 * c : 1.055 * c ** (1 / 2.4) - 0.055;
    return Math.round(255 * Math.max(0, Math.min(1, v)));
  });
}

/** The heatmap's colour at t ∈ [-1, 1]: −1 the fake end, 0 white, 1 the real end. */
export function divergingRgb(t) {
  const x = Math.max(-1, Math.min(1, Number.isFinite(t) ? t : 0));
  const end = x < 0 ? HEAT_FAKE : HEAT_REAL;
  return labToRgb(HEAT_WHITE.map((w, i) => w + (end[i] - w) * Math.abs(x)));
}

/** D's readout in [0, 1] → its heatmap colour. The distance from 0.5 goes through a square root before the (even)
 * scale, so the small leanings of an undecided D (0.45 against 0.55) still show. */
export function heatRgb(v) {
  const c = Math.max(0, Math.min(1, Number.isFinite(v) ? v : 0.5)) - 0.5;
  return divergingRgb(Math.sign(c) * Math.sqrt(Math.abs(c) * 2));
}

/** The heatmap as a CSS gradient, for its legend key. */
export const heatGradient = () => `linear-gradient(90deg, ${[-1, -0.5, 0, 0.5, 1].map((t) => `rgb(${divergingRgb(t).join(", ")})`).join(", ")})`;

// Okabe & Ito's palette for colour-blind readers (2008).
export const OKABE_ITO = {
  black: "#000000", orange: "#e69f00", skyBlue: "#56b4e9", bluishGreen: "#009e73", yellow: "#f0e442",
  blue: "#0072b2", vermillion: "#d55e00", reddishPurple: "#cc79a7",
};

/** Good and bad, as the quality marks show them (a mode covered or missed): blue and (dark) vermillion, never green and
 * red. The shape says it too (filled or hollow), so the colour is never the only cue. */
export const QUALITY = { good: OKABE_ITO.blue, bad: "#b34700" }; // a darker vermillion: it stands out on the orange side too

/** The field view's points: real data and generated samples (drawn as squares and dots). */
export const POINTS = { real: "#15803d", fake: "#7c3aed" };

/** Chart series and compared runs, in order: the first two (a chart's usual pair, a problem and its fix) are blue
 * and vermillion. */
export const SERIES = [OKABE_ITO.blue, OKABE_ITO.vermillion, OKABE_ITO.bluishGreen, OKABE_ITO.orange,
  OKABE_ITO.reddishPurple, OKABE_ITO.skyBlue];
