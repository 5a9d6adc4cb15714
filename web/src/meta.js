// The server's vocabulary (GET /api/meta): run statuses and which actions each allows, alert titles, metric
// labels and the charts that group them. The page keeps no list of its own, so a status, metric or alert the
// server adds needs no page change. Pure: no DOM, importable by node's test runner.

/**
 * @typedef {{name: string, label?: string, axis?: "y"|"y2"}} SeriesSpec
 * @typedef {{id: string, title: string, testid?: string, points?: boolean, series: SeriesSpec[]}} ChartSpec
 * @typedef {{
 *   statuses: {all: string[], live: string[], final: string[], patchable: string[], actions: Record<string, string[]>},
 *   alerts: {kind: string, title: string}[], metrics: {name: string, label: string}[], charts: ChartSpec[],
 *   sweeps?: {statuses: string[], cell_statuses: string[], max_cells: number, max_seeds: number}
 * }} Meta
 */

/** True when `status` belongs to one of the server's status groups ("live", "final", "patchable"). */
export function statusIn(meta, group, status) {
  return (meta.statuses[group] || []).includes(status);
}

/** True when the server accepts `action` ("pause", "resume", "stop") on a run in `status`. */
export function allows(meta, action, status) {
  return (meta.statuses.actions[action] || []).includes(status);
}

/** An alert kind's title; a kind this server's meta does not name is shown as itself. */
export function alertTitle(meta, kind) {
  const entry = meta.alerts.find((a) => a.kind === kind);
  return entry ? entry.title : kind;
}

/** A metric's label; an unknown metric is shown by its name. */
export function metricLabel(meta, name) {
  const entry = meta.metrics.find((m) => m.name === name);
  return entry ? entry.label : name;
}

/** The metrics a run list shows beside each run, in the server's order. */
export function summaryMetrics(meta) {
  return meta.metrics.filter((m) => m.summary).map((m) => m.name);
}

/** The run view's charts, every series with a label (the metric's, where the chart gives none). */
export function chartSpecs(meta) {
  return meta.charts.map((chart) => ({
    ...chart,
    series: chart.series.map((s) => ({ ...s, label: s.label ?? metricLabel(meta, s.name), axis: s.axis || "y" })),
  }));
}

/** The metrics the charts show, once each in chart order: the compare view draws one chart per metric. */
export function chartedMetrics(meta) {
  const seen = new Set();
  const out = [];
  for (const chart of meta.charts) {
    for (const s of chart.series) {
      if (seen.has(s.name)) continue;
      seen.add(s.name);
      out.push({ name: s.name, label: metricLabel(meta, s.name) });
    }
  }
  return out;
}

/** Where the compare view charts each metric: one chart with a line per run for a metric at least two of the runs
 * report, and a metric only one of them reports (a family's own: MADE's NLL, a VAE's KL, a GAN's D loss) in that
 * run's own column, so runs of different model families share a chart only where they share a metric.
 * @param {string[]} names the charted metrics (chartedMetrics), in order
 * @param {((name: string) => boolean)[]} reports per run: whether it has reported the metric
 * @returns {{shared: Set<string>, own: Set<string>[]}} */
export function splitMetrics(names, reports) {
  const shared = new Set(names.filter((n) => reports.filter((has) => has(n)).length >= 2));
  return { shared, own: reports.map((has) => new Set(names.filter((n) => !shared.has(n) && has(n)))) };
}

/** Every status a sweep's cell may be in, for ordering counts: the runs' lifecycle, then the statuses of a cell
 * without a run (waiting for quota, cancelled, its run deleted). */
export function cellOrder(meta) {
  return [...meta.statuses.all, ...(meta.sweeps?.cell_statuses || [])];
}
