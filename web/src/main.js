// Boots the page: loads the schema, the presets and the server's vocabulary (statuses, metrics, charts, alerts:
// GET /api/meta), and shows the view the URL names — `?run=ID` (a run), `?compare=A,B` (2–4 runs), `?sweep=ID` (a
// sweep's cells and heatmap) or nothing (the start page) — so a link reopens the same view.
import { api } from "./api.js";
import { createCompareView } from "./compare.js";
import { h } from "./dom.js";
import { createHome } from "./home.js";
import { createRunView } from "./runview.js";
import { createSweepView } from "./sweep.js";
import "./perf.js";

const app = document.getElementById("app");
let current = null;
let schema = null;
let presets = null;
let meta = null;

/** The view state in the URL. */
function readUrl() {
  const params = new URLSearchParams(location.search);
  if (params.get("run")) return { run: params.get("run") };
  if (params.get("compare")) return { compare: params.get("compare").split(",").filter(Boolean) };
  if (params.get("sweep")) return { sweep: params.get("sweep") };
  return {};
}

function urlOf(state) {
  if (state.run) return `?run=${encodeURIComponent(state.run)}`;
  if (state.compare) return `?compare=${state.compare.map(encodeURIComponent).join(",")}`;
  if (state.sweep) return `?sweep=${encodeURIComponent(state.sweep)}`;
  return "/";
}

/** Open a view and record it in the address bar (back/forward work). */
export function navigate(state) {
  history.pushState(state, "", urlOf(state));
  show(state);
}

function show(state) {
  if (current) current.destroy();
  if (state.run) current = createRunView({ runId: state.run, schema, meta, navigate });
  else if (state.compare) current = createCompareView({ runIds: state.compare, meta, navigate });
  else if (state.sweep) current = createSweepView({ sweepId: state.sweep, meta, navigate });
  else current = createHome({ schema, presets, meta, navigate });
  app.replaceChildren(current.element);
  window.scrollTo(0, 0);
}

async function boot() {
  try {
    [schema, presets, meta] = await Promise.all([api("/api/schema"), api("/api/presets"), api("/api/meta")]);
  } catch (err) {
    app.replaceChildren(h("p", { class: "error" }, `Could not reach the server: ${err.message}. Reload to retry.`));
    return;
  }
  for (const link of document.querySelectorAll("[data-nav=home]")) {
    link.addEventListener("click", (e) => { e.preventDefault(); navigate({}); });
  }
  window.addEventListener("popstate", () => show(readUrl()));
  show(readUrl());
}

boot();
