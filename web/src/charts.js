// Time series with uPlot: one chart per question (the server's meta names them: losses, D's outputs, gradient
// norms, quality, speed), with a labelled vertical marker at every live change. Markers are DOM elements in
// uPlot's overlay, placed in its draw hook, so they move with the axis and stay readable (and testable) text.
import uPlot from "/vendor/uPlot.esm.js";
import { SERIES } from "./colours.js";
import { h } from "./dom.js";
import { show } from "./schema.js";
import { tickLabels } from "./ticks.js";

/** Series colours (and the compare view's run colours): colours.js's, told apart with any colour vision. */
export const PALETTE = SERIES;

/** Label text of one change-log entry: "unroll_steps=5, lr_d=0.001". */
export function changeLabel(changes) {
  return Object.entries(changes).map(([k, v]) => `${k.split(".").pop()}=${show(v)}`).join(", ");
}

function markerPlugin(getChanges) {
  return {
    hooks: {
      draw: [(u) => {
        const over = u.over;
        const changes = getChanges();
        let layer = over.querySelector(".markers");
        if (!layer) { layer = h("div", { class: "markers" }); over.append(layer); }
        while (layer.children.length < changes.length) {
          layer.append(h("div", { class: "marker", testid: "marker" }, h("span", { class: "marker-label" })));
        }
        changes.forEach((c, i) => {
          const el = layer.children[i];
          const x = u.valToPos(c.step, "x");
          el.style.left = `${x}px`;
          el.hidden = !(x >= 0 && x <= over.clientWidth);
          el.dataset.step = c.step;
          const label = el.firstChild;
          label.textContent = `${c.step}: ${changeLabel(c.changes)}`;
          label.style.top = `${(i % 3) * 15}px`;
          label.classList.toggle("flip", x > over.clientWidth * 0.6);
        });
      }],
    },
  };
}

/**
 * One chart bound to a MetricStore (or, for comparisons, a function giving uPlot data).
 * @param {HTMLElement} host
 * @param {import("./meta.js").ChartSpec} spec
 * @param {() => {x: number[], columns: [string, string, (number|null)[], string?, string?][], changes: any[]}} source
 */
export function createChart(host, spec, source) {
  // Hidden until a series of it has data: a chart of metrics this run never reports (a GAN's D(x) in a VAE's view)
  // is not drawn as an empty box.
  const box = h("figure", { class: "chart", testid: spec.testid || `chart-${spec.id}`, hidden: true },
    h("figcaption", {}, spec.title));
  host.append(box);
  let plot = null;
  let keys = "";
  let lastWidth = 0;

  /** The axis' tick labels, also kept on the chart (``data-y-ticks``): the canvas's text cannot be read back. */
  function axisLabels(key, splits) {
    const labels = tickLabels(splits);
    box.dataset[key] = labels.join(" ");
    return labels;
  }

  /** Room for the longest tick label (about 6.5 px a character at 11 px), never less than ``least``. */
  function axisSize(values, least) {
    const longest = Math.max(0, ...(values || []).map((v) => String(v ?? "").length));
    return Math.max(least, Math.ceil(14 + 6.5 * longest));
  }

  function build(data) {
    if (plot) plot.destroy();
    keys = data.columns.map((c) => c[0]).join(",");
    const usesY2 = data.columns.some((c) => c[3] === "y2");
    const width = Math.max(240, box.clientWidth - 4);
    lastWidth = width;
    plot = new uPlot({
      width, height: 170,
      scales: { x: { time: false } },
      legend: { live: false },
      cursor: { drag: { x: true, y: false } },
      axes: [
        { label: "step", labelSize: 18, size: 36, font: "11px system-ui", labelFont: "11px system-ui" },
        { size: (u, values) => axisSize(values, 52), font: "11px system-ui",
          values: (u, splits) => axisLabels("yTicks", splits) },
        ...(usesY2 ? [{ scale: "y2", side: 1, size: (u, values) => axisSize(values, 44), grid: { show: false },
          font: "11px system-ui", values: (u, splits) => axisLabels("y2Ticks", splits) }] : []),
      ],
      series: [{ label: "step" }, ...data.columns.map((c, i) => ({
        label: c[1], stroke: c[4] || PALETTE[i % PALETTE.length], width: 1.5, scale: c[3] || "y", spanGaps: true,
        points: { show: !!spec.points, size: 5 }, // sparse series (quality, every eval_every steps) need dots
      }))],
      plugins: [markerPlugin(() => source().changes)],
    }, [data.x, ...data.columns.map((c) => c[2])], box);
  }

  /** Redraw with the newest data; rebuilds only when the set of series changes or the box was resized. */
  function update() {
    const data = source();
    box.hidden = !data.columns.length;
    if (!data.columns.length) return;
    const width = Math.max(240, box.clientWidth - 4);
    if (!plot || keys !== data.columns.map((c) => c[0]).join(",")) build(data);
    else {
      if (Math.abs(width - lastWidth) > 2) { plot.setSize({ width, height: 170 }); lastWidth = width; }
      plot.setData([data.x, ...data.columns.map((c) => c[2])]);
    }
    box.dataset.points = String(data.x.length);
    box.dataset.series = String(data.columns.length);
  }

  return { update, element: box, destroy: () => plot && plot.destroy() };
}

/** A chart's data from one run's store: the spec's series that the run reports (a spec may list metrics of
 * both data kinds, 2D and images; only those present are drawn). */
export function storeSource(store, spec) {
  return () => ({
    x: store.steps,
    columns: spec.series.filter((s) => store.has(s.name)).map((s) => [s.name, s.label, store.columns.get(s.name), s.axis]),
    changes: store.changes,
  });
}
