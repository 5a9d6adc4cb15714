// The run list: every run with its lineage (children indented under their parent), status, step, last metrics and,
// on a server with users, its owner; tick 2–4 runs to compare them. Runs an instructor shared with the class are
// listed first, under their own heading.
import { apiPage } from "./api.js";
import { h, shortId } from "./dom.js";
import { summaryMetrics } from "./meta.js";
import { show } from "./schema.js";

/**
 * @param {(state: any) => void} navigate
 * @param {import("./meta.js").Meta} meta
 * @param {{auth: string, name: string | null} | null} [me] who is signed in (GET /api/me)
 */
export function createRunList(navigate, meta, me = null) {
  const shown = summaryMetrics(meta);
  const list = h("ul", { class: "run-list", testid: "run-list" });
  const sharedList = h("ul", { class: "run-list", testid: "shared-runs" });
  const sharedBox = h("div", { class: "shared-box", hidden: true }, h("h3", {}, "Shared with the class"), sharedList);
  const users = Boolean(me && me.auth === "users");
  const compare = h("button", { type: "button", testid: "compare-selected", disabled: true }, "Compare selected");
  const hint = h("span", { class: "muted small" }, "tick 2–4 runs");
  const selected = new Set();
  const PAGE = 100; // the server's default page; it says how many runs there are in all
  let offset = 0;
  const newer = h("button", { type: "button", testid: "runs-newer", hidden: true }, "← newer");
  const older = h("button", { type: "button", testid: "runs-older", hidden: true }, "older →");
  const counter = h("span", { class: "muted small", testid: "runs-count" });
  const turn = (by) => { offset = Math.max(0, offset + by); clearTimeout(timer); refresh(); };
  newer.addEventListener("click", () => turn(-PAGE));
  older.addEventListener("click", () => turn(PAGE));
  let timer = 0;
  let stopped = false;

  compare.addEventListener("click", () => navigate({ compare: [...selected] }));
  const syncButton = () => {
    compare.disabled = selected.size < 2 || selected.size > 4;
    hint.textContent = `${selected.size} selected · tick 2–4 runs`;
  };

  function item(run, children) {
    const box = h("input", { type: "checkbox", "aria-label": `select ${shortId(run.id)}`, checked: selected.has(run.id),
      onchange: (e) => { if (e.target.checked) selected.add(run.id); else selected.delete(run.id); syncButton(); } });
    const m = run.last_metrics || {};
    const metrics = shown.filter((k) => typeof m[k] === "number").map((k) => `${k} ${show(m[k])}`).join(" · ");
    return h("li", { "data-run-id": run.id },
      h("div", { class: "run-item" }, box,
        h("a", { href: `?run=${run.id}`, onclick: (e) => { e.preventDefault(); navigate({ run: run.id }); } },
          run.preset || "custom", " ", h("code", {}, shortId(run.id))),
        h("span", { class: "status", "data-status": run.status }, run.status),
        h("span", { class: "muted small" }, `step ${run.step}`),
        run.parent_id ? h("span", { class: "muted small" }, `← ${shortId(run.parent_id)} @ ${run.parent_step}`) : null,
        run.owner ? h("span", { class: "owner small", testid: "list-owner" }, run.owner === me?.name ? "yours" : run.owner) : null,
        run.shared ? h("span", { class: "shared-badge small" }, "shared") : null,
        run.sweep_id ? h("a", { class: "small", href: `?sweep=${run.sweep_id}`,
          onclick: (e) => { e.preventDefault(); navigate({ sweep: run.sweep_id }); } }, `sweep ${shortId(run.sweep_id)}`) : null,
        h("span", { class: "metrics small" }, metrics)),
      children.length ? h("ul", {}, children) : null);
  }

  async function refresh() {
    try {
      const { items: runs, total } = await apiPage(`/api/runs?limit=${PAGE}&offset=${offset}`);
      if (!runs.length && offset > 0) { offset = Math.max(0, offset - PAGE); return refresh(); }
      newer.hidden = offset === 0;
      older.hidden = offset + runs.length >= total;
      counter.textContent = total > PAGE ? `runs ${offset + 1}–${offset + runs.length} of ${total}` : "";
      const byParent = new Map();
      const ids = new Set(runs.map((r) => r.id));
      for (const r of runs) {
        const parent = r.parent_id && ids.has(r.parent_id) ? r.parent_id : "";
        if (!byParent.has(parent)) byParent.set(parent, []);
        byParent.get(parent).push(r);
      }
      const tree = (parent) => (byParent.get(parent) || []).map((r) => item(r, tree(r.id)));
      list.replaceChildren(...(runs.length ? tree("") : [h("li", { class: "muted" }, "No runs yet.")]));
      if (users) {
        const { items: shared } = await apiPage("/api/runs?shared=true&limit=20");
        sharedBox.hidden = !shared.length;
        sharedList.replaceChildren(...shared.map((r) => item(r, [])));
      }
    } catch (err) {
      list.replaceChildren(h("li", { class: "error" }, `Could not load runs: ${err.message}`));
    }
    if (!stopped) timer = setTimeout(refresh, 3000);
  }
  refresh();
  syncButton();
  const element = h("section", { class: "runs" }, h("h2", {}, "Runs"), sharedBox, h("div", { class: "row" }, compare, hint), list,
    h("div", { class: "row" }, newer, counter, older));
  return { element, destroy() { stopped = true; clearTimeout(timer); } };
}
