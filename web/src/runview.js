// The live run view, picture first: the field view (2D), the phase portrait (Dirac-GAN) or the sample grid (images)
// is the largest thing on the page, the model graph and charts beside it (below it on a phone), the live controls
// grouped by fix under it, then samples and "fork here". State comes from the run's stream: a snapshot first, then
// live events, applied to plain state by the shared reducer and drawn once per animation frame. On a server with users
// it shows whose run it is and offers only what the server's `access` event says this user may do: a watcher gets
// the view and "fork here", not the controls; an instructor may also share the run with the class.
import { api, ApiError } from "./api.js";
import { createAlertBanner } from "./alerts.js";
import { createChart, storeSource } from "./charts.js";
import { createControls, createStepping } from "./controls.js";
import { h, shortId } from "./dom.js";
import { createFieldView } from "./field.js";
import { createModelGraph } from "./graph.js";
import { createConfigForm } from "./form.js";
import { createImagePanel } from "./images.js";
import { createPortrait } from "./portrait.js";
import { createLatentView } from "./latentview.js";
import { frameScheduler, timeHandler } from "./perf.js";
import { allows, chartSpecs, statusIn } from "./meta.js";
import { applyEvent, createRunState, mayControl, preparingText, takeDirty } from "./reducer.js";
import { createLatentWalk, createSamplesPanel } from "./samples.js";
import { createSetupCopy } from "./setupcopy.js";
import { openStream } from "./stream.js";
import { configDiff } from "./diff.js";
import { hasDiscriminator } from "./schema.js";
import { fieldModel, hasLatent } from "./fieldlayers.js";

const CALM_FIELD_MS = 1000;

/**
 * @param {{runId: string, schema: any, meta: import("./meta.js").Meta, navigate: (state: any) => void}} opts
 */
export function createRunView({ runId, schema, meta, navigate }) {
  const state = createRunState();
  let imageMode = false;
  let resized = false;
  let preparingSince = 0; // when the shown preparing note arrived: its ETA counts down from there
  let preparingTimer = 0;
  const waiters = [];
  let patchSeq = 0;

  // ------------------------------------------------------------------ parts
  const status = h("span", { class: "status", testid: "run-status" }, "connecting");
  const step = h("span", { class: "step muted", testid: "run-step" });
  const connection = h("span", { class: "connection muted small", testid: "connection" });
  const title = h("h1", { class: "run-title" }, `Run ${shortId(runId)}`);
  const lineage = h("div", { class: "lineage small" });
  const pause = h("button", { type: "button", testid: "pause-run", onclick: () => control("pause") }, "Pause");
  const resume = h("button", { type: "button", testid: "resume-run", onclick: () => control("resume") }, "Resume");
  const stop = h("button", { type: "button", testid: "stop-run", onclick: () => control("stop") }, "Stop");
  const forkButton = h("button", { type: "button", class: "primary", testid: "fork-run", onclick: () => toggleFork() },
    "Fork here…");
  const owner = h("span", { class: "owner small", testid: "run-owner", hidden: true });
  const shareButton = h("button", { type: "button", testid: "share-run", hidden: true, onclick: () => share() });
  const watchNote = h("p", { class: "watch-note small", testid: "watch-note", hidden: true });
  const message = h("div", { class: "error", role: "alert", testid: "run-error" });
  const banner = createAlertBanner(meta, (patch) => sendPatch(patch));
  const fieldView = createFieldView({ size: 640 }); // drawn at about its shown size (up to 600 px), not blown up
  fieldView.element.hidden = true;
  const portrait = createPortrait(); // a Dirac-GAN's field frames are its phase portrait, not a 2D heatmap
  portrait.element.hidden = true;
  const imagePanel = createImagePanel(runId);
  imagePanel.element.hidden = true;
  const latentView = createLatentView(); // an AE or VAE run's codes beside the prior; shown once a frame brings them
  const samples = createSamplesPanel(runId);
  const walk = createLatentWalk(runId); // image runs: G along a latent walk (a row per label when conditional)
  const graph = createModelGraph(meta); // z → G → G(z) → D ← x → losses, live values, tricks where they act
  const stepping = createStepping(schema, { // slow motion, and single steps while paused
    onStep: (update) => api(`/api/runs/${runId}/step`, { method: "POST", json: { update } }),
    onPatch: (path, value) => sendPatch(nest(path, value)),
  });
  const controls = createControls(schema, (path, value) => sendPatch(nest(path, value)), stepping.element);
  const preparing = h("p", { class: "preparing muted small", testid: "preparing", role: "status", hidden: true });
  const chartsBox = h("div", { class: "charts" });
  const charts = chartSpecs(meta).map((spec) => createChart(chartsBox, spec, storeSource(state.store, spec)));
  const forkBox = h("section", { class: "fork-box", hidden: true, testid: "fork-panel" });
  const setupCopy = createSetupCopy(schema); // "copy link to this setup": its config as a shared setup link
  const stream = openStream(runId, { onEvent: timeHandler(onEvent), onState });

  const element = h("div", { class: "run-view" },
    h("div", { class: "run-head" },
      h("div", { class: "run-id" }, title, h("div", { class: "row wrap" }, status, step, owner, connection), lineage,
        setupCopy.element),
      h("div", { class: "run-actions" }, pause, resume, stop, shareButton, forkButton)),
    watchNote, message, banner.element, forkBox,
    h("div", { class: "run-body" },
      h("div", { class: "visual" }, portrait.element, fieldView.element, imagePanel.element, latentView.element, walk.element, samples.element),
      h("div", { class: "charts-col" }, preparing, graph.element, chartsBox),
      controls.element));

  // prefers-reduced-motion: the field view is redrawn at most once a second (the newest frame), not with every frame.
  const calm = window.matchMedia("(prefers-reduced-motion: reduce)");
  let fieldOwed = false, fieldDrawn = -Infinity, fieldTimer = 0;

  const schedule = frameScheduler(render);
  const resize = new ResizeObserver(() => { resized = true; schedule(); });
  resize.observe(chartsBox);
  resize.observe(portrait.canvas);

  // ------------------------------------------------------------------ events
  function onState(link, detail) {
    connection.textContent = link === "open" ? "● connected" : link === "gone" ? `gone: ${detail}` : link === "retrying" ? detail : "connecting…";
    connection.dataset.state = link;
  }

  function onEvent(e) {
    applyEvent(state, e);
    if (e.type === "step_rejected") stepping.refused(e.errors);
    for (const w of waiters.slice()) if (w.test(e)) { waiters.splice(waiters.indexOf(w), 1); w.resolve(e); }
    schedule();
  }

  function render() {
    const run = state.run;
    if (!run) return; // nothing to draw before the snapshot; what came before it stays flagged
    const dirty = takeDirty(state);
    status.textContent = run.status;
    status.dataset.status = run.status;
    step.textContent = `step ${run.step} of ${run.config.steps}`;
    title.textContent = `${run.preset || "custom run"} · ${shortId(run.id)}`;
    const live = statusIn(meta, "live", run.status);
    const may = mayControl(state);
    for (const button of [pause, resume, stop]) button.hidden = !may;
    pause.disabled = !allows(meta, "pause", run.status);
    resume.disabled = !allows(meta, "resume", run.status);
    stop.disabled = !allows(meta, "stop", run.status);
    controls.setEnabled(may && statusIn(meta, "patchable", run.status));
    const pace = allows(meta, "pause", run.status) ? state.store.last("it_per_s") : null; // measured while it trains
    stepping.update({ meta, status: run.status, may, config: run.config, itPerS: pace });
    renderOwnership(run, may);
    if (dirty.config) controls.setConfig(run.config); // only when the config changed, never mid-drag
    if (dirty.errors) controls.showErrors(state.errors);
    message.textContent = run.reason && statusIn(meta, "final", run.status) ? run.reason : "";
    banner.show(state.alerts, run.config, live && may); // a watcher gets the alert, not its one-click fix
    samples.update(run.checkpoint_step, run.config.model.conditional);
    renderLineage(run);
    setupCopy.update(run);
    renderPreparing(dirty.preparing);
    if (dirty.charts || resized) for (const chart of charts) chart.update();
    const dirac = run.config.dataset.kind === "dirac";
    element.classList.toggle("dirac", dirac);
    portrait.element.hidden = !dirac;
    if (dirac && (dirty.charts || dirty.field || dirty.run || resized)) {
      portrait.draw(state.store.columns.get("theta"), state.store.columns.get("psi"), state.field);
    } else if (!dirac && dirty.field && state.field) fieldOwed = true;
    if (fieldOwed && !dirac) drawField();
    resized = false;
    if (dirty.image && state.image) { imageMode = true; imagePanel.frame(state.image); latentView.draw(state.image); }
    imagePanel.element.hidden = !imageMode;
    graph.element.hidden = !hasDiscriminator(schema, run.config.model.family); // GAN Lab's z → G → D: a GAN's model
    if ((dirty.charts || dirty.config) && !graph.element.hidden) graph.update(run.config, state.store);
    // A latent walk needs a latent code: MADE's noise only picks each pixel in turn.
    walk.update(imageMode && hasLatent(schema, run.config.model.family), run.step >= 1 || run.checkpoint_step != null,
      run.config.model.conditional);
  }

  /** Draw the newest field frame now, or (reduced motion) once a second has passed since the last one. */
  function drawField() {
    const wait = calm.matches ? fieldDrawn + CALM_FIELD_MS - performance.now() : 0;
    if (wait > 0) {
      if (!fieldTimer) fieldTimer = setTimeout(() => { fieldTimer = 0; schedule(); }, wait);
      return;
    }
    fieldOwed = false;
    fieldDrawn = performance.now();
    fieldView.element.hidden = false;
    fieldView.draw(state.field, { model: fieldModel(schema, state.run.config.model.family) }); // no D, no heatmap
    latentView.draw(state.field); // nothing for a frame without a latent part (every family but AE and VAE)
  }

  /** The note about something the server is still preparing (the quality judge), with a rough remaining time that
   * counts down between events; hidden once it is done. */
  function renderPreparing(arrived) {
    if (arrived) preparingSince = performance.now();
    const text = preparingText(state.preparing, (performance.now() - preparingSince) / 1000);
    preparing.hidden = !text;
    preparing.textContent = text || "";
    if (text && !preparingTimer) preparingTimer = setInterval(schedule, 1000);
    else if (!text && preparingTimer) { clearInterval(preparingTimer); preparingTimer = 0; }
  }

  /** Whose run it is (on a server with users), the watcher's note, and the instructor's share button. */
  function renderOwnership(run, may) {
    const access = state.access;
    const mine = access && run.owner && access.user === run.owner;
    owner.hidden = !run.owner && !run.shared;
    owner.textContent = [run.owner ? (mine ? "your run" : `${run.owner}'s run`) : "", run.shared ? "shared with the class" : ""]
      .filter(Boolean).join(" · ");
    watchNote.hidden = may;
    const whose = run.owner ? `${run.owner}'s` : "this";
    const steer = run.owner ? `${run.owner} or an instructor` : "an instructor";
    watchNote.textContent = may ? "" : `You are watching ${whose} run: only ${steer} can steer it. Fork it to try your own changes.`;
    shareButton.hidden = !(access && access.can_share);
    shareButton.textContent = run.shared ? "Stop sharing" : "Share with the class";
  }

  async function share() {
    message.textContent = "";
    try {
      const reply = await api(`/api/runs/${runId}/shared`, { method: "PUT", json: { shared: !state.run.shared } });
      state.run = { ...state.run, shared: reply.shared };
      state.dirty.run = true;
      schedule();
    } catch (err) {
      message.textContent = err.message;
    }
  }

  let lineageKey = "";
  function renderLineage(run) {
    const key = `${run.parent_id}|${run.sweep_id}`;
    if (key === lineageKey) return;
    lineageKey = key;
    const sweep = run.sweep_id ? h("span", { testid: "run-sweep" }, `cell ${run.sweep_cell} of sweep `,
      h("a", { href: `?sweep=${run.sweep_id}`, onclick: (ev) => { ev.preventDefault(); navigate({ sweep: run.sweep_id }); } },
        shortId(run.sweep_id))) : "";
    lineage.replaceChildren(sweep, sweep && run.parent_id ? " · " : "", run.parent_id ? h("span", {}, "forked from ",
      h("a", { href: `?run=${run.parent_id}`, onclick: (ev) => { ev.preventDefault(); navigate({ run: run.parent_id }); } },
        shortId(run.parent_id)), ` at step ${run.parent_step} · `,
      h("button", { type: "button", class: "link", testid: "compare-parent",
        onclick: () => navigate({ compare: [run.parent_id, run.id] }) }, "compare with parent")) : "");
  }

  // ------------------------------------------------------------------ actions
  function nest(path, value) {
    const out = {};
    let node = out;
    const parts = path.split(".");
    parts.slice(0, -1).forEach((p) => { node = node[p] = {}; });
    node[parts[parts.length - 1]] = value;
    return out;
  }

  function sendPatch(patch) {
    stream.send({ type: "patch", patch, id: `p${++patchSeq}` });
  }

  /** The stream is the source of truth for status: the 202 reply carries the run as it was when the action was
   * accepted, which is stale once the worker's own status event has come in (it often beats the reply). The reply
   * is only used where the stream said nothing meanwhile (e.g. an interrupted run put back in the queue). */
  async function control(action) {
    message.textContent = "";
    const seen = state.statusEvents;
    try {
      const reply = await api(`/api/runs/${runId}/${action}`, { method: "POST" });
      if (state.statusEvents === seen) { state.run = { ...state.run, ...reply }; state.dirty.run = true; }
      schedule();
    } catch (err) {
      message.textContent = err.message;
    }
  }

  function waitFor(test, ms = 30000) {
    return new Promise((resolve, reject) => {
      const w = { test, resolve };
      waiters.push(w);
      setTimeout(() => { const i = waiters.indexOf(w); if (i >= 0) { waiters.splice(i, 1); reject(new Error("timed out")); } }, ms);
    });
  }

  function toggleFork() {
    if (!forkBox.hidden) { forkBox.hidden = true; return; }
    const run = state.run;
    const form = createConfigForm(schema, { uploads: () => api("/api/datasets") });
    form.setConfig(run.config);
    const go = h("button", { type: "submit", class: "primary", testid: "fork-start" }, "Start the fork");
    const note = h("span", { class: "error", role: "alert" });
    const el = h("form", { novalidate: true, onsubmit: async (ev) => {
      ev.preventDefault();
      const { config, errors } = form.read();
      if (errors.length) { errors[0].input.focus(); return; }
      go.disabled = true;
      try {
        const child = await forkHere(configDiff(state.run.config, config));
        navigate({ run: child.id });
      } catch (err) {
        if (err instanceof ApiError) note.textContent = form.showErrors(err.errors).map((e) => `${e.field}: ${e.reason}`).join("; ");
        else note.textContent = err.message;
        go.disabled = false;
      }
    } },
    h("h2", {}, "Fork here"),
    h("p", { class: "muted small" }, "A new run starts from this run's weights at the current step, with the settings below. Change any of them — even those that are not live — then start it."),
    form.element, h("div", { class: "row" }, go, h("button", { type: "button", onclick: () => { forkBox.hidden = true; } }, "Cancel"), note));
    forkBox.replaceChildren(el);
    forkBox.hidden = false;
    forkBox.scrollIntoView({ block: "start" });
  }

  /** Fork at the current step: a running run pauses (which writes its checkpoint), forks, then resumes. */
  async function forkHere(overrides) {
    const wasRunning = allows(meta, "pause", state.run.status);
    if (wasRunning) {
      const paused = waitFor((e) => e.type === "status" && !allows(meta, "pause", e.status)); // paused, or over
      await api(`/api/runs/${runId}/pause`, { method: "POST" });
      await paused;
    }
    try {
      return await api(`/api/runs/${runId}/fork`, { method: "POST", json: { overrides } });
    } finally {
      if (wasRunning) await api(`/api/runs/${runId}/resume`, { method: "POST" }).catch(() => {});
    }
  }

  return {
    element,
    destroy() {
      stream.close(); resize.disconnect(); clearInterval(preparingTimer); clearTimeout(fieldTimer); charts.forEach((c) => c.destroy());
    },
  };
}
