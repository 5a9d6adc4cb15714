// A sweep (`?sweep=ID`): a heatmap of a chosen metric over two of its axes (the mean over seeds in each square, the
// spread beside it) and small multiples, one tile per cell with a live thumbnail of its samples; a tile opens its
// run. Stop and Delete act on the whole sweep, offered only to whoever may (its owner or an instructor, on a server
// with users: the sweep's `can_control`). Refreshed by polling GET /api/sweeps/{id} while anything is live.
import { api, apiBlob, ApiError } from "./api.js";
import { h, shortId } from "./dom.js";
import { cellOrder, metricLabel, statusIn, summaryMetrics } from "./meta.js";
import {
  colourDomain, defaultMetric, fmt, heatmap, inkOn, paramsLabel, progress, reportedMetrics, thumbnailDue, viridis,
  viridisRgb,
} from "./sweepmath.js";

const POLL_MS = 2000;
// Thumbnails are PNGs of each cell's samples from its newest weights (GET /api/runs/{id}/samples): the server draws
// a 2D run's samples over its data's bounds with the mode centres, an image run's as a grid, so a tile needs no
// frame maths of its own. This is far cheaper than a websocket per cell, which would carry every metric row and up
// to five field frames a second for each of up to 64 training runs; here the cost is bounded by the page, not by
// training speed: a tile is fetched when its run's step has moved and a few seconds have passed (a live run's
// weights are rewritten only every few seconds anyway), at most THUMB_CONCURRENCY at a time, and a finished
// cell once.
const THUMB_CONCURRENCY = 3;
const IMAGE_KINDS = ["digits", "fashion_mnist"];

/** @param {{sweepId: string, meta: import("./meta.js").Meta, me?: any, navigate: (state: any) => void}} opts */
export function createSweepView({ sweepId, meta, me, navigate }) {
  const title = h("h1", {}, `Sweep ${shortId(sweepId)}`);
  const status = h("span", { class: "status", testid: "sweep-status" }, "loading");
  const counts = h("span", { class: "muted small", testid: "sweep-progress" });
  const owner = h("span", { class: "owner small", testid: "sweep-owner", hidden: true });
  const about = h("div", { class: "small sweep-about" });
  const message = h("div", { class: "error", role: "alert", testid: "sweep-error" });
  const stop = h("button", { type: "button", testid: "stop-sweep", onclick: () => act("stop") }, "Stop sweep");
  const remove = h("button", { type: "button", testid: "delete-sweep", onclick: () => { confirmBox.hidden = false; yes.focus(); } },
    "Delete sweep…");
  const yes = h("button", { type: "button", class: "danger", testid: "delete-sweep-confirm", onclick: () => act("delete") },
    "Yes, delete it and its runs");
  const no = h("button", { type: "button", onclick: () => { confirmBox.hidden = true; remove.focus(); } }, "Cancel");
  const confirmBox = h("div", { class: "confirm row wrap", role: "group", "aria-label": "Confirm deletion", hidden: true },
    h("span", { class: "small" }, "Delete the sweep, every run of it and their files?"), yes, no);

  const metricSelect = h("select", { id: "sweep-metric", testid: "heatmap-metric" });
  const xSelect = h("select", { id: "sweep-x", testid: "heatmap-x" });
  const ySelect = h("select", { id: "sweep-y", testid: "heatmap-y" });
  const table = h("table", { class: "heatmap", testid: "sweep-heatmap" });
  const legend = h("div", { class: "heat-legend small", testid: "heatmap-legend" });
  const pooled = h("p", { class: "muted small" });
  const tiles = h("div", { class: "tiles", testid: "sweep-tiles" });

  const element = h("div", { class: "sweep-view", testid: "sweep-view" },
    h("div", { class: "run-head" },
      h("div", {}, title, h("div", { class: "row wrap" }, status, counts, owner)),
      h("div", { class: "run-actions" }, stop, remove)),
    confirmBox, message, about,
    h("section", { class: "panel heat-panel", "aria-label": "Heatmap" },
      h("h2", {}, "Heatmap"),
      h("div", { class: "row wrap heat-controls" },
        h("label", { for: "sweep-metric" }, "Metric"), metricSelect,
        h("label", { for: "sweep-x" }, "across"), xSelect,
        h("label", { for: "sweep-y" }, "up"), ySelect),
      h("div", { class: "heat-scroll" }, table), legend, pooled),
    h("section", { class: "panel", "aria-label": "Cells" },
      h("h2", {}, "Cells"),
      h("p", { class: "muted small" }, "Samples from each cell's newest weights, refreshed while it trains. Open a cell to see its run."),
      tiles));

  let sweep = null;
  let timer = 0;
  let stopped = false;
  let chosen = { metric: null, x: null, y: null }; // what the user picked; null follows the defaults
  const tileOf = new Map(); // cell index → {el, img, label, ...}
  const thumbs = new Map(); // cell index → the last fetch {runId, step, at, final}
  const inFlight = new Set();
  const queue = [];
  const urls = new Set();
  let aborter = new AbortController(); // cancels the thumbnails in flight when the sweep is deleted or left

  for (const select of [metricSelect, xSelect, ySelect]) select.addEventListener("change", () => {
    chosen = { metric: metricSelect.value, x: xSelect.value, y: ySelect.value };
    if (chosen.x === chosen.y) chosen.y = sweep.axes.find((a) => a.path !== chosen.x)?.path ?? "";
    renderHeatmap();
  });

  async function refresh() {
    try {
      const first = !sweep;
      sweep = await api(`/api/sweeps/${encodeURIComponent(sweepId)}`);
      if (first && sweep.lesson) describe(sweep.lesson).catch(() => {});
      message.textContent = "";
      render();
    } catch (err) {
      message.textContent = err instanceof ApiError && err.status === 404
        ? "This sweep no longer exists." : `Could not load the sweep: ${err.message}`;
      if (err instanceof ApiError && err.status === 404) return;
    }
    if (!stopped && (!sweep || isLive())) poll();
  }

  /** The next refresh: one pending at a time, however many paths ask for it. */
  function poll() {
    clearTimeout(timer);
    timer = setTimeout(refresh, POLL_MS);
  }

  const isLive = () => sweep.status === "running" || sweep.cells.some((c) => statusIn(meta, "live", c.status));

  function render() {
    title.textContent = `${sweep.lesson || sweep.preset || "custom"} sweep · ${shortId(sweep.id)}`;
    status.textContent = sweep.status;
    status.dataset.status = sweep.status;
    const { done, total, breakdown } = progress(sweep.counts, meta.statuses.final, cellOrder(meta));
    counts.textContent = `${done} of ${total} cells done: ${breakdown}`;
    stop.disabled = !isLive();
    stop.hidden = remove.hidden = sweep.can_control === false;
    if (sweep.can_control === false) confirmBox.hidden = true;
    owner.hidden = !sweep.owner;
    owner.textContent = sweep.owner ? (me && sweep.owner === me.name ? "your sweep" : `${sweep.owner}'s sweep`) : "";
    renderHeatmap();
    renderTiles();
    pumpThumbnails();
  }

  // ------------------------------------------------------------------ heatmap
  function options(select, values, current) {
    const key = values.map((v) => v.value).join("\n");
    if (select.dataset.key !== key) {
      select.replaceChildren(...values.map((v) => h("option", { value: v.value }, v.label)));
      select.dataset.key = key;
    }
    select.value = current;
  }

  function renderHeatmap() {
    if (!sweep) return;
    const reported = reportedMetrics(summaryMetrics(meta), sweep.cells);
    const metric = chosen.metric && reported.includes(chosen.metric) ? chosen.metric : defaultMetric(reported);
    options(metricSelect, (reported.length ? reported : ["—"]).map((m) => ({ value: m, label: m === "—" ? "no metrics yet" : metricLabel(meta, m) })), metric ?? "—");
    metricSelect.disabled = !reported.length;
    const axes = sweep.axes;
    const x = axes.some((a) => a.path === chosen.x) ? chosen.x : axes[0]?.path ?? null;
    const yDefault = axes.find((a) => a.path !== x)?.path ?? null;
    const y = chosen.y && chosen.y !== x && axes.some((a) => a.path === chosen.y) ? chosen.y : yDefault;
    options(xSelect, axes.length ? axes.map((a) => ({ value: a.path, label: a.path })) : [{ value: "", label: "—" }], x ?? "");
    options(ySelect, axes.length > 1 ? axes.filter((a) => a.path !== x).map((a) => ({ value: a.path, label: a.path }))
      : [{ value: "", label: "—" }], y ?? "");
    xSelect.disabled = axes.length < 2;
    ySelect.disabled = axes.length < 3;

    const map = heatmap(axes, sweep.cells, metric ?? "", x, y);
    const [lo, hi] = colourDomain(map);
    const short = (path) => (path ? path.split(".").pop() : "");
    table.replaceChildren(
      h("caption", { class: "small muted" }, metric ? `${metricLabel(meta, metric)}: mean over seeds` : "waiting for the first metrics"),
      ...map.rows.map((row) => h("tr", {},
        h("th", { scope: "row" }, y ? `${short(y)} ${fmt(row[0].y)}` : ""),
        ...row.map((square) => squareCell(square, x, y, lo, hi, metric)))),
      h("tr", {}, h("td", {}), ...map.xs.map((v) => h("th", { scope: "col" }, x ? `${short(x)} ${fmt(v)}` : "all cells"))));
    legend.replaceChildren(
      h("span", {}, fmt(+lo.toPrecision(3))),
      h("span", { class: "ramp", "aria-hidden": "true",
        style: `background: linear-gradient(90deg, ${[0, 0.25, 0.5, 0.75, 1].map(viridis).join(", ")})` }),
      h("span", {}, fmt(+hi.toPrecision(3))),
      h("span", { class: "muted" }, "colour: the mean over seeds (viridis); below it the seeds' min–max and how many of the square's cells have reported"));
    const others = axes.filter((a) => a.path !== x && a.path !== y).map((a) => a.path);
    pooled.textContent = others.length ? `Each square also pools every value of ${others.join(", ")}.` : "";
  }

  function squareCell(square, x, y, lo, hi, metric) {
    const where = [x && `${x} = ${fmt(square.x)}`, y && `${y} = ${fmt(square.y)}`].filter(Boolean).join(", ") || "all cells";
    const s = square.stats;
    const attrs = { testid: "heat-square", "data-x": JSON.stringify(square.x), "data-y": JSON.stringify(square.y),
      "data-n": String(s ? s.n : 0), "data-cells": String(square.cells.length) };
    if (!s) return h("td", { ...attrs, class: "heat-empty", title: `${where}: nothing reported yet` }, "…");
    const t = (s.mean - lo) / (hi - lo);
    const spread = s.n > 1 ? `${fmt(s.min)}–${fmt(s.max)}` : "one seed";
    return h("td", { ...attrs, "data-mean": String(s.mean),
      style: `background: ${viridis(t)}; color: ${inkOn(viridisRgb(t))}`,
      title: `${where}: ${metricLabel(meta, metric)} mean ${fmt(s.mean)} over ${s.n} of ${square.cells.length} cells`
        + (s.n > 1 ? ` (min ${fmt(s.min)}, max ${fmt(s.max)}, s.e. ${fmt(s.se)})` : "") },
    h("strong", {}, fmt(+s.mean.toPrecision(3))), h("span", { class: "spread" }, spread),
    h("span", { class: "count" }, `${s.n}/${square.cells.length} cells`));
  }

  // ------------------------------------------------------------------ tiles
  function renderTiles() {
    const metric = metricSelect.disabled ? null : metricSelect.value;
    for (const cell of sweep.cells) {
      let tile = tileOf.get(cell.index);
      if (!tile) {
        tile = makeTile(cell);
        tileOf.set(cell.index, tile);
        tiles.append(tile.el);
      }
      const value = metric ? cell.metrics?.[metric] : undefined;
      tile.el.dataset.status = cell.status;
      tile.el.dataset.runId = cell.run_id || "";
      tile.status.textContent = cell.status;
      tile.status.dataset.status = cell.status;
      tile.step.textContent = `step ${cell.step} of ${cell.steps}`
        + (typeof value === "number" ? ` · ${metricLabel(meta, metric)} ${fmt(value)}` : "");
      if (cell.run_id) tile.link.href = `?run=${cell.run_id}`; // a cell without a run is no link
      else tile.link.removeAttribute("href");
    }
  }

  function makeTile(cell) {
    const img = h("img", { class: "thumb", alt: `samples of ${paramsLabel(cell.params)}, seed ${cell.seed}`, hidden: true });
    const placeholder = h("div", { class: "thumb thumb-empty muted small" }, "no samples yet");
    const status = h("span", { class: "status" });
    const step = h("span", { class: "muted small" });
    const label = `${paramsLabel(cell.params) || "base config"} · seed ${cell.seed}`;
    const link = h("a", { class: "tile-link", "aria-label": `open the run of ${label}`,
      onclick: (e) => {
        e.preventDefault();
        const run = sweep.cells.find((c) => c.index === cell.index)?.run_id;
        if (run) navigate({ run });
      } },
    img, placeholder, h("span", { class: "tile-label" }, label));
    const el = h("div", { class: "tile", testid: "sweep-tile", "data-cell": String(cell.index) }, link,
      h("div", { class: "row wrap" }, status, step));
    return { el, img, placeholder, status, step, link };
  }

  function thumbnailN() {
    const base = sweep.base;
    return base.model?.arch === "dcgan" || IMAGE_KINDS.includes(base.dataset?.kind) ? 16 : 256;
  }

  function pumpThumbnails() {
    const now = performance.now();
    for (const cell of sweep.cells) {
      const final = statusIn(meta, "final", cell.status);
      if (inFlight.has(cell.index) || queue.includes(cell.index)) continue;
      if (thumbnailDue(thumbs.get(cell.index), cell, final, now)) queue.push(cell.index);
    }
    while (inFlight.size < THUMB_CONCURRENCY && queue.length) fetchThumbnail(queue.shift());
  }

  async function fetchThumbnail(index) {
    const cell = sweep.cells.find((c) => c.index === index);
    if (!cell || !cell.run_id) return;
    const final = statusIn(meta, "final", cell.status);
    inFlight.add(index);
    try {
      const { blob, headers } = await apiBlob(`/api/runs/${cell.run_id}/samples?n=${thumbnailN()}&seed=0`,
        aborter.signal);
      if (stopped) return;
      const tile = tileOf.get(index);
      const url = URL.createObjectURL(blob);
      urls.add(url);
      const old = tile.img.src;
      tile.img.src = url;
      tile.img.hidden = false;
      tile.placeholder.hidden = true;
      tile.img.dataset.step = headers.get("X-Checkpoint-Step") || "";
      if (old.startsWith("blob:")) { URL.revokeObjectURL(old); urls.delete(old); }
      thumbs.set(index, { runId: cell.run_id, step: cell.step, at: performance.now(), final });
    } catch {
      thumbs.set(index, { runId: cell.run_id, step: -1, at: performance.now(), final: false }); // retried later
    } finally {
      inFlight.delete(index);
      if (!stopped) pumpThumbnails();
    }
  }

  // ------------------------------------------------------------------ actions
  async function act(action) {
    message.textContent = "";
    stop.disabled = remove.disabled = yes.disabled = true;
    try {
      if (action === "delete") {
        stopped = true;
        clearTimeout(timer);
        aborter.abort(); // no thumbnail request may outlive the runs it asks about
        await api(`/api/sweeps/${encodeURIComponent(sweepId)}`, { method: "DELETE" });
        navigate({});
        return;
      }
      sweep = await api(`/api/sweeps/${encodeURIComponent(sweepId)}/stop`, { method: "POST" });
      render();
      poll(); // its runs stop one by one: follow them
    } catch (err) {
      message.textContent = err.message;
      if (action === "delete") { // still there: follow it again
        stopped = false;
        aborter = new AbortController();
        thumbs.clear();
        poll();
      }
    } finally {
      remove.disabled = yes.disabled = false;
      if (sweep) stop.disabled = !isLive();
    }
  }

  /** The lesson's own words, when the sweep is one. */
  async function describe(name) {
    const lesson = (await api("/api/sweeps/lessons")).find((l) => l.name === name);
    if (lesson) about.replaceChildren(h("p", {}, h("strong", {}, lesson.title), " — ", lesson.description));
  }

  refresh();
  return {
    element,
    destroy() {
      stopped = true;
      clearTimeout(timer);
      aborter.abort();
      for (const url of urls) URL.revokeObjectURL(url);
    },
  };
}
