// A run's stream events applied to plain state, for the run view and the compare view alike: what each event
// means is decided once, here, and the views only draw. No DOM, no network, no clock: the state object given is
// the only thing it touches, so node's test runner exercises it as the page does.
import { MetricStore } from "./store.js";

/**
 * @typedef {{step: number, kind: string, message: string, cleared: boolean,
 *   fix: {label: string, patch: Record<string, unknown>} | null}} Alert
 * @typedef {{what: string, message: string, eta_s: number | null, done: boolean}} Preparing
 * @typedef {{run: boolean, config: boolean, charts: boolean, field: boolean, image: boolean, alerts: boolean,
 *   preparing: boolean, errors: boolean}} Dirty
 * @typedef {{
 *   run: any, alerts: Alert[], field: any, image: any, store: MetricStore, preparing: Preparing | null,
 *   errors: {field: string, reason: string}[], statusEvents: number, dirty: Dirty, access: Access | null
 * }} RunState
 * @typedef {{user: string | null, admin: boolean, owner: string | null, can_control: boolean, can_share: boolean}} Access
 *   What this connection's user may do to the run (a server with users sends it after the snapshot; without users
 *   there is none, and anyone may do anything).
 */

/** Nothing to redraw. */
export function clean() {
  return { run: false, config: false, charts: false, field: false, image: false, alerts: false, preparing: false,
    errors: false };
}

/** A run's state before its snapshot. The store is kept for the state's whole life (a snapshot reloads it), so a
 * chart may hold on to it. @returns {RunState} */
export function createRunState() {
  return { run: null, alerts: [], field: null, image: null, store: new MetricStore(), preparing: null, errors: [],
    statusEvents: 0, dirty: clean(), access: null };
}

/** The redraw flags gathered since the last call, cleared. */
export function takeDirty(state) {
  const dirty = state.dirty;
  state.dirty = clean();
  return dirty;
}

function alertOf(e) {
  return { step: e.step, kind: e.kind, message: e.message, cleared: Boolean(e.cleared), fix: e.fix ?? null };
}

/** Apply one stream event to `state` (which it returns); an event kind it does not know changes nothing. */
export function applyEvent(state, e) {
  const { dirty } = state;
  switch (e.type) {
    case "snapshot": {
      state.run = { ...e.run, changes: (e.run.changes || []).slice() };
      state.alerts = (e.run.alerts || []).map(alertOf);
      state.store.load(e.metrics, state.run.changes);
      state.preparing = null; // the snapshot's frames say whether something is still being prepared
      Object.assign(dirty, { run: true, config: true, charts: true, alerts: true, preparing: true });
      for (const frame of e.frames || []) applyEvent(state, frame);
      break;
    }
    case "metrics":
      if (!e.rows.length) break;
      state.store.append(e.rows);
      if (state.run) { state.run.step = e.rows[e.rows.length - 1].step; dirty.run = true; }
      dirty.charts = true;
      break;
    case "field":
      state.field = e; dirty.field = true;
      break;
    case "samples": // a PNG grid for image runs, points (drawn like a field frame) otherwise
      if (e.png) { state.image = e; dirty.image = true; } else { state.field = e; dirty.field = true; }
      break;
    case "status":
      state.statusEvents += 1;
      if (state.run) {
        state.run.status = e.status;
        if (e.step != null) state.run.step = e.step;
        state.run.reason = e.reason ?? state.run.reason;
      }
      dirty.run = true;
      break;
    case "config":
      state.store.addChange(e.step, e.changes);
      if (state.run) {
        state.run.config = e.config;
        state.run.changes.push({ step: e.step, changes: e.changes });
      }
      Object.assign(dirty, { config: true, charts: true, run: true });
      break;
    case "checkpoint":
      if (state.run) state.run.checkpoint_step = e.step;
      dirty.run = true;
      break;
    case "alert":
      state.alerts.push(alertOf(e));
      dirty.alerts = true;
      break;
    case "preparing":
      state.preparing = { what: e.what, message: e.message, eta_s: e.eta_s ?? null, done: Boolean(e.done) };
      dirty.preparing = true;
      break;
    case "access":
      state.access = { user: e.user ?? null, admin: Boolean(e.admin), owner: e.owner ?? null,
        can_control: Boolean(e.can_control), can_share: Boolean(e.can_share) };
      dirty.run = true;
      break;
    case "patch_rejected": case "error":
      state.errors = e.errors || [];
      dirty.errors = true;
      break;
    default: break;
  }
  return state;
}

/** Whether the page may offer this run's controls (pause, stop, live patches, alert fixes): what the server's
 * `access` event says, or, from a server without users (no such event), yes. */
export function mayControl(state) {
  return !state.access || state.access.can_control;
}

/** Rough words for a remaining time in seconds: "about 40 s", "about 3 min"; null when unknown. */
export function aboutText(seconds) {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return null;
  if (seconds <= 5) return "almost ready";
  if (seconds < 90) return `about ${Math.max(10, Math.round(seconds / 10) * 10)} s`;
  return `about ${Math.round(seconds / 60)} min`;
}

/** The preparing note's text, `elapsed` seconds after it arrived; null when there is nothing to say. */
export function preparingText(preparing, elapsed = 0) {
  if (!preparing || preparing.done) return null;
  const left = preparing.eta_s === null ? null : aboutText(preparing.eta_s - elapsed);
  return left ? `${preparing.message} (${left})` : preparing.message;
}
