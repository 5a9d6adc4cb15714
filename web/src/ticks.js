// Axis tick labels for the charts. uPlot's default formats ticks with Intl's three fraction digits, so an axis of
// small values (the sampling cost of a 2D model is about 0.0002 ms) read "0, 0, 0". Here every tick gets the fewest
// decimals that still tell the ticks apart and write each one exactly (to a millionth of their spacing).

const MAX_DECIMALS = 12;

/** @param {number[]} splits the axis' tick values, evenly spaced @returns {string[]} */
export function tickLabels(splits) {
  const finite = splits.filter(Number.isFinite);
  const gaps = finite.slice(1).map((v, i) => Math.abs(v - finite[i])).filter((g) => g > 0);
  const spacing = gaps.length ? Math.min(...gaps) : Math.abs(finite[0] ?? 0) || 1;
  const tolerance = spacing * 1e-6;
  let decimals = 0;
  while (decimals < MAX_DECIMALS && !finite.every((v) => Math.abs(Number(v.toFixed(decimals)) - v) <= tolerance)) {
    decimals += 1;
  }
  const format = new Intl.NumberFormat("en", { minimumFractionDigits: decimals, maximumFractionDigits: decimals });
  return splits.map((v) => (Number.isFinite(v) ? format.format(v) : ""));
}
