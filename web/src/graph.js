// The model-overview graph, as GAN Lab draws it: z → G → G(z) → D ← x → losses, with the run's newest values on
// its edges (D(x), D(G(z)), both losses, both gradient norms) and each trick drawn where it acts on the game. A trick
// that is off stays as a faint outline, so a learner sees where it would go; switched on (live or from the start) it
// lights up (data-active="true") and, when it comes on live, flashes once (not under prefers-reduced-motion).
// What is on and what the labels say is graphmodel.js's (pure, tested); this file only draws an SVG.
import { h } from "./dom.js";
import { activeTricks, edgeLabels, newestRow, switchedOn, trickDetails, TRICKS } from "./graphmodel.js";
import { metricLabel } from "./meta.js";

const NS = "http://www.w3.org/2000/svg";
const W = 720, H = 310;

/** An SVG element: s("rect", {x: 1}, child…). */
function s(tag, attrs = {}, ...children) {
  const el = document.createElementNS(NS, tag);
  for (const [k, v] of Object.entries(attrs)) if (v !== undefined && v !== null) el.setAttribute(k, String(v));
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : document.createTextNode(String(c)));
  return el;
}

/** A labelled box centred on (x, y). */
function box(x, y, w, hgt, title, cls) {
  return s("g", { class: `node ${cls}` },
    s("rect", { x: x - w / 2, y: y - hgt / 2, width: w, height: hgt, rx: 8 }),
    s("text", { x, y: y + (cls === "discriminator" ? -2 : 4), "text-anchor": "middle", class: "node-title" }, title));
}

/** An edge from (x1, y1) to (x2, y2) with an arrowhead; `d` overrides the straight path. */
function edge(x1, y1, x2, y2, cls = "", d = null) {
  return s("path", { d: d || `M${x1},${y1} L${x2},${y2}`, class: `edge ${cls}`, "marker-end": "url(#mg-arrow)" });
}

/** A value label on an edge; its text is set by update(). */
function value(name, x, y, anchor = "middle") {
  return s("text", { x, y, "text-anchor": anchor, class: "edge-value", "data-edge": name }, "–");
}

/**
 * @param {import("./meta.js").Meta} meta
 */
export function createModelGraph(meta) {
  const label = (name) => metricLabel(meta, name);
  // Geometry: the fake path runs along the top, the real path along the bottom, both into D, then the losses.
  const Z = [40, 110], G = [150, 110], GZ = [290, 110], X = [290, 240], D = [480, 180], L = [636, 180];
  const tricks = {};
  const details = {};
  const trick = (id, ...parts) => {
    const t = TRICKS.find((x) => x.id === id);
    const g = s("g", { class: "trick", "data-trick": id, "data-active": "false", tabindex: 0, role: "img",
      "aria-label": `${t.label}: ${t.where}` }, s("title", {}, `${t.label} (${t.path}): ${t.where}`), ...parts);
    tricks[id] = g;
    return g;
  };
  /** The trick's detail line (its live setting), placed at (x, y); made before the trick's group, which holds it. */
  const at = (id, x, y, anchor = "middle") => (details[id] = s("text", { class: "trick-detail", x, y, "text-anchor": anchor }));

  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, class: "model-graph-svg", role: "group",
    "aria-label": "Model overview: z goes through G to G(z); D judges G(z) and real x; the losses train both" },
    s("defs", {}, s("marker", { id: "mg-arrow", viewBox: "0 0 10 10", refX: 9, refY: 5, markerWidth: 7, markerHeight: 7,
      orient: "auto-start-reverse" }, s("path", { d: "M0,0 L10,5 L0,10 z", class: "arrowhead" }))),
    // ---- tricks drawn under the nodes and edges they act on
    trick("unroll",
      s("rect", { x: D[0] - 40 + 8, y: D[1] - 32 - 8, width: 80, height: 64, rx: 8, class: "ghost" }),
      s("rect", { x: D[0] - 40 + 16, y: D[1] - 32 - 16, width: 80, height: 64, rx: 8, class: "ghost" }),
      s("text", { x: D[0] + 16, y: D[1] - 66, "text-anchor": "middle", class: "trick-label" }, "unrolled D"),
      at("unroll", D[0] + 16, D[1] - 54)),
    trick("replay",
      s("rect", { x: 336, y: 48, width: 96, height: 26, rx: 6, class: "trick-box" }),
      s("text", { x: 384, y: 65, "text-anchor": "middle", class: "trick-label" }, "replay buffer"),
      edge(414, 74, D[0] - 30, D[1] - 34, "trick-edge"),
      at("replay", 336, 40, "start")),
    trick("feature_matching",
      s("path", { d: `M${D[0] + 10},${D[1] + 33} C ${D[0] + 30},${H - 20} ${L[0] - 40},${H - 20} ${L[0] - 30},${L[1] + 51}`,
        class: "trick-edge dashed", "marker-end": "url(#mg-arrow)" }),
      s("text", { x: (D[0] + L[0]) / 2 + 10, y: H - 16, "text-anchor": "middle", class: "trick-label" },
        "feature matching: D's layer → G loss"),
      at("feature_matching", (D[0] + L[0]) / 2 + 10, H - 4)),
    // ---- nodes and edges
    box(Z[0], Z[1], 56, 34, "z", "latent"),
    s("text", { x: Z[0], y: Z[1] + 32, "text-anchor": "middle", class: "node-sub" }, "noise"),
    box(G[0], G[1], 70, 44, "G", "generator"),
    box(GZ[0], GZ[1], 76, 34, "G(z)", "fake"),
    box(X[0], X[1], 76, 34, "x", "real"),
    s("text", { x: X[0], y: X[1] + 32, "text-anchor": "middle", class: "node-sub" }, "real data"),
    box(D[0], D[1], 80, 64, "D", "discriminator"),
    s("g", { class: "node losses" }, s("rect", { x: L[0] - 70, y: L[1] - 50, width: 140, height: 100, rx: 8 })),
    edge(Z[0] + 28, Z[1], G[0] - 36, G[1]),
    edge(G[0] + 35, G[1], GZ[0] - 39, GZ[1]),
    edge(GZ[0] + 38, GZ[1] + 8, D[0] - 40, D[1] - 16, "fake"),
    edge(X[0] + 38, X[1] - 8, D[0] - 40, D[1] + 16, "real"),
    edge(D[0] + 40, D[1] - 6, L[0] - 71, L[1] - 6),
    value("d_fake", GZ[0], GZ[1] + 34),
    value("d_real", X[0], X[1] - 26),
    value("d_loss", L[0], L[1] - 24),
    value("g_loss", L[0], L[1] - 6),
    // the gradients flow back (dashed): D's from its loss, G's from its loss through D to G
    s("path", { d: `M${L[0] - 30},${L[1] - 51} C ${L[0] - 60},-10 ${G[0] + 60},-10 ${G[0]},${G[1] - 23}`,
      class: "edge grad", "marker-end": "url(#mg-arrow)" }),
    edge(L[0] - 71, L[1] + 12, D[0] + 41, D[1] + 12, "grad"),
    value("grad_norm_g", G[0], G[1] - 32),
    value("grad_norm_d", D[0], D[1] + 24),
    // ---- tricks drawn over the edges they act on
    trick("instance_noise",
      s("circle", { cx: 400, cy: 146, r: 9, class: "trick-dot" }), s("text", { x: 400, y: 150, "text-anchor": "middle", class: "trick-sym" }, "+"),
      s("circle", { cx: 400, cy: 214, r: 9, class: "trick-dot" }), s("text", { x: 400, y: 218, "text-anchor": "middle", class: "trick-sym" }, "+"),
      s("text", { x: 392, y: 178, "text-anchor": "middle", class: "trick-label" }, "noise"),
      at("instance_noise", 392, 190)),
    trick("pack",
      s("text", { x: D[0] - 62, y: D[1] + 70, "text-anchor": "middle", class: "trick-label" }, "pack"),
      at("pack", D[0] - 62, D[1] + 82)),
    trick("r1",
      s("rect", { x: D[0] - 18, y: D[1] + 40, width: 36, height: 18, rx: 4, class: "trick-box" }),
      s("text", { x: D[0], y: D[1] + 53, "text-anchor": "middle", class: "trick-label" }, "R1"),
      at("r1", D[0], D[1] + 72)),
    trick("label_smoothing",
      s("text", { x: L[0], y: L[1] + 20, "text-anchor": "middle", class: "trick-label" }, "smoothed real label"),
      at("label_smoothing", L[0], L[1] + 34)),
  );
  const legend = h("p", { class: "graph-legend small muted" },
    "Tricks light up where they act when switched on; hover one for what it does. Dashed: gradients flowing back.");
  const element = h("figure", { class: "model-graph", testid: "model-graph" },
    h("figcaption", {}, "Model overview"), svg, legend);
  let config = null;
  let flashTimer = 0;

  return {
    element,
    /** Redraw from the run's config and its metric store. A trick switched on since the last config flashes. */
    update(newConfig, store) {
      const row = newestRow(store);
      for (const [name, text] of Object.entries(edgeLabels(row, label))) {
        svg.querySelector(`[data-edge="${name}"]`).textContent = text;
      }
      const on = activeTricks(newConfig);
      const lines = trickDetails(newConfig, row);
      for (const t of TRICKS) {
        tricks[t.id].setAttribute("data-active", on[t.id] ? "true" : "false");
        details[t.id].textContent = lines[t.id];
      }
      if (config && config !== newConfig) {
        for (const id of switchedOn(config, newConfig)) tricks[id].classList.add("flash");
        clearTimeout(flashTimer);
        flashTimer = setTimeout(() => { for (const g of Object.values(tricks)) g.classList.remove("flash"); }, 1600);
      }
      config = newConfig;
      element.dataset.active = TRICKS.filter((t) => on[t.id]).map((t) => t.id).join(" ");
    },
  };
}
