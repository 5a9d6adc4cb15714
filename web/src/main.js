// Boots the page: loads the schema, the presets and the server's vocabulary (statuses, metrics, charts, alerts:
// GET /api/meta), and shows the view the URL names — `?run=ID` (a run), `?compare=A,B` (2–4 runs), `?sweep=ID` (a
// sweep's cells and heatmap), `?compare=A,B&lesson=NAME` (a lesson's problem and fix side by side, or a taxonomy
// lesson's model families, 2–4 runs), a shared setup `?preset=NAME&set=path=value…` (the start page with the form
// filled in) or nothing (the start page with the chapter's lessons) — so a link reopens the same view. On a server
// with users (GANPLAY_AUTH=users) it also says who is signed in (GET /api/me), or how to sign in; on a server that
// trains on a Ray cluster, the header follows the cluster (GET /api/health) and says when the server has lost it.
import { api, ApiError } from "./api.js";
import { CLUSTER_POLL_MS, clusterSummary } from "./cluster.js";
import { createCompareView } from "./compare.js";
import { h } from "./dom.js";
import { createHome } from "./home.js";
import { createRunView } from "./runview.js";
import { readSetupQuery } from "./setuplink.js";
import { createSweepView } from "./sweep.js";
import "./perf.js";

const app = document.getElementById("app");
let current = null;
let schema = null;
let presets = null;
let meta = null;
let me = null;
let lessons = null;

/** The view state in the URL. */
function readUrl() {
  const params = new URLSearchParams(location.search);
  if (params.get("run")) return { run: params.get("run") };
  if (params.get("compare")) {
    return { compare: params.get("compare").split(",").filter(Boolean), lesson: params.get("lesson") || undefined };
  }
  if (params.get("sweep")) return { sweep: params.get("sweep") };
  const setup = readSetupQuery(location.search); // a shared setup: the start page with the form filled in
  return setup ? { setup, search: location.search } : {};
}

function urlOf(state) {
  if (state.run) return `?run=${encodeURIComponent(state.run)}`;
  if (state.compare && state.lesson) {
    return `?compare=${state.compare.map(encodeURIComponent).join(",")}&lesson=${encodeURIComponent(state.lesson)}`;
  }
  if (state.compare) return `?compare=${state.compare.map(encodeURIComponent).join(",")}`;
  if (state.setup) return `/${state.search}`;
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
  else if (state.compare) current = createCompareView({ runIds: state.compare, lesson: state.lesson, lessons, meta, navigate });
  else if (state.sweep) current = createSweepView({ sweepId: state.sweep, meta, me, navigate });
  else current = createHome({ schema, presets, lessons, meta, me, navigate, setup: state.setup });
  app.replaceChildren(current.element);
  window.scrollTo(0, 0);
}

async function boot() {
  try {
    [schema, presets, meta, me, lessons] = await Promise.all(
      [api("/api/schema"), api("/api/presets"), api("/api/meta"), api("/api/me"), api("/api/lessons")]);
  } catch (err) {
    const text = err instanceof ApiError && err.status === 401
      ? "This server needs your own token: open this page as /?token=YOUR_TOKEN (your instructor gives you one)."
      : `Could not reach the server: ${err.message}. Reload to retry.`;
    app.replaceChildren(h("p", { class: "error", testid: "sign-in" }, text));
    return;
  }
  const who = document.getElementById("who");
  if (who && me.name) who.textContent = `signed in as ${me.name}${me.admin ? " (instructor)" : ""}`;
  for (const link of document.querySelectorAll("[data-nav=home]")) {
    link.addEventListener("click", (e) => { e.preventDefault(); navigate({}); });
  }
  window.addEventListener("popstate", () => show(readUrl()));
  show(readUrl());
  followCluster();
}

/** Polls /api/health while the server has a cluster; a server with the local executor is asked once. */
async function followCluster() {
  const line = document.getElementById("cluster");
  let summary = null;
  try {
    summary = clusterSummary((await api("/api/health")).cluster);
  } catch {
    summary = line.hidden ? null : { state: "lost", text: "Ray cluster: the server does not answer" };
  }
  if (!summary && line.hidden) return;
  if (summary) {
    line.hidden = false;
    line.textContent = summary.text;
    line.dataset.state = summary.state;
  }
  setTimeout(followCluster, CLUSTER_POLL_MS);
}

boot();
