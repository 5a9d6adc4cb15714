// reducer.js: what each stream event does to a view's state, for the run view and the compare view alike.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { aboutText, applyEvent, clean, createRunState, mayControl, preparingText, takeDirty } from "../src/reducer.js";

const FIX = { label: "unroll D 5 steps", patch: { tricks: { unroll_steps: 5 } } };
const PREPARING = { type: "preparing", what: "judge", done: false, eta_s: 45.0,
  message: "Training the quality judge for fashion_mnist: fd and class coverage join when it is ready" };

function snapshot(extra = {}) {
  return {
    type: "snapshot",
    run: {
      id: "a".repeat(32), status: "running", step: 3, reason: null, checkpoint_step: null,
      config: { steps: 100, tricks: { unroll_steps: 0 } },
      changes: [{ step: 2, changes: { "train.lr_d": 0.001 } }],
      alerts: [{ step: 3, kind: "mode_collapse", message: "2 of 8 modes", cleared: false, fix: FIX }],
    },
    metrics: { steps: [1, 2, 3], series: { d_loss: [0.7, 0.6, 0.5] } },
    frames: [],
    ...extra,
  };
}
const started = (extra) => applyEvent(createRunState(), snapshot(extra));

describe("snapshot", () => {
  test("sets the run, its alerts with their fixes, and the metric history", () => {
    const state = started();
    assert.equal(state.run.status, "running");
    assert.deepEqual(state.alerts, [{ step: 3, kind: "mode_collapse", message: "2 of 8 modes", cleared: false, fix: FIX }]);
    assert.deepEqual(state.store.steps, [1, 2, 3]);
    assert.deepEqual(state.store.changes, [{ step: 2, changes: { "train.lr_d": 0.001 } }]);
  });

  test("flags everything it sets for redrawing", () => {
    const dirty = takeDirty(started());
    for (const flag of ["run", "config", "charts", "alerts", "preparing"]) assert.equal(dirty[flag], true, flag);
  });

  test("applies its frames: a field frame, a PNG grid and a preparing note each land in their place", () => {
    const field = { type: "field", step: 3, samples: [[0, 0]] };
    const grid = { type: "samples", step: 3, png: "iVBOR" };
    const state = started({ frames: [field, grid, PREPARING] });
    assert.equal(state.field, field);
    assert.equal(state.image, grid);
    assert.equal(state.preparing.message, PREPARING.message);
    assert.equal(state.preparing.eta_s, 45);
    const dirty = takeDirty(state);
    assert.equal(dirty.field && dirty.image, true);
  });

  test("a reconnect's snapshot replaces what the last one gave: no doubled alerts or points, no stale note", () => {
    const state = started({ frames: [PREPARING] });
    applyEvent(state, { type: "metrics", rows: [{ step: 4, d_loss: 0.4 }] });
    applyEvent(state, snapshot());
    assert.equal(state.alerts.length, 1);
    assert.deepEqual(state.store.steps, [1, 2, 3]);
    assert.equal(state.preparing, null);
  });

  test("keeps the same metric store, which the charts hold on to", () => {
    const state = createRunState();
    const store = state.store;
    applyEvent(state, snapshot());
    applyEvent(state, snapshot());
    assert.equal(state.store, store);
  });
});

describe("live events", () => {
  test("metrics rows grow the history and move the run's step", () => {
    const state = started();
    takeDirty(state);
    applyEvent(state, { type: "metrics", rows: [{ step: 4, d_loss: 0.4 }, { step: 5, d_loss: 0.3 }] });
    assert.deepEqual(state.store.steps, [1, 2, 3, 4, 5]);
    assert.equal(state.run.step, 5);
    assert.deepEqual(takeDirty(state), { ...clean(), run: true, charts: true });
  });

  test("metrics that come before the snapshot are kept in the store without a run to move", () => {
    const state = applyEvent(createRunState(), { type: "metrics", rows: [{ step: 1, d_loss: 0.7 }] });
    assert.equal(state.run, null);
    assert.deepEqual(state.store.steps, [1]);
  });

  test("samples frames: a PNG grid is the image, points are drawn as a field", () => {
    const state = started();
    const points = { type: "samples", step: 4, points: [[0, 1]] };
    applyEvent(state, points);
    assert.equal(state.field, points);
    assert.equal(state.image, null);
    const grid = { type: "samples", step: 5, png: "iVBOR" };
    applyEvent(state, grid);
    assert.equal(state.image, grid);
    assert.equal(state.field, points);
  });

  test("status moves status and step, keeps the reason when the event has none, and is counted", () => {
    const state = started();
    applyEvent(state, { type: "status", status: "diverged", step: 9, reason: "loss is NaN" });
    applyEvent(state, { type: "status", status: "diverged" });
    assert.equal(state.run.status, "diverged");
    assert.equal(state.run.step, 9);
    assert.equal(state.run.reason, "loss is NaN");
    assert.equal(state.statusEvents, 2);
  });

  test("config replaces the run's config and adds one entry to the change log, for the run and the charts", () => {
    const state = started();
    takeDirty(state);
    const config = { steps: 100, tricks: { unroll_steps: 5 } };
    applyEvent(state, { type: "config", step: 7, changes: { "tricks.unroll_steps": 5 }, config });
    assert.equal(state.run.config, config);
    const entry = { step: 7, changes: { "tricks.unroll_steps": 5 } };
    assert.deepEqual(state.run.changes.at(-1), entry);
    assert.deepEqual(state.store.changes, [{ step: 2, changes: { "train.lr_d": 0.001 } }, entry]);
    assert.equal(state.run.changes.length, 2);
    const dirty = takeDirty(state);
    assert.equal(dirty.config && dirty.charts, true);
  });

  test("checkpoint records the newest checkpoint's step", () => {
    const state = applyEvent(started(), { type: "checkpoint", step: 50, path: "/x" });
    assert.equal(state.run.checkpoint_step, 50);
  });

  test("an alert is added with its fix; a cleared one has no fix and says it is cleared", () => {
    const state = started();
    applyEvent(state, { type: "alert", step: 8, kind: "d_overpowering", message: "D wins", fix: { label: "x", patch: {} } });
    applyEvent(state, { type: "alert", step: 9, kind: "mode_collapse", message: "8 of 8", cleared: true, fix: null });
    assert.deepEqual(state.alerts.slice(1), [
      { step: 8, kind: "d_overpowering", message: "D wins", cleared: false, fix: { label: "x", patch: {} } },
      { step: 9, kind: "mode_collapse", message: "8 of 8", cleared: true, fix: null }]);
    assert.equal(takeDirty(state).alerts, true);
  });

  test("an alert from an older server without a fix field gets fix null", () => {
    const state = applyEvent(started(), { type: "alert", step: 8, kind: "divergence", message: "NaN" });
    assert.equal(state.alerts.at(-1).fix, null);
  });

  test("preparing is shown until the same note comes back done", () => {
    const state = applyEvent(started(), PREPARING);
    assert.match(preparingText(state.preparing), /^Training the quality judge/);
    applyEvent(state, { ...PREPARING, eta_s: null, done: true });
    assert.equal(state.preparing.done, true);
    assert.equal(preparingText(state.preparing), null);
  });

  test("a refused patch or an error gives the field errors to show", () => {
    const errors = [{ field: "tricks.unroll_steps", reason: "must be at most 20" }];
    const state = applyEvent(started(), { type: "patch_rejected", id: "p1", errors });
    assert.deepEqual(state.errors, errors);
    assert.equal(takeDirty(state).errors, true);
    applyEvent(state, { type: "error", errors: [{ field: "request", reason: "bad" }] });
    assert.equal(state.errors[0].reason, "bad");
  });

  test("an event kind it does not know changes nothing and flags nothing", () => {
    const state = started();
    takeDirty(state);
    const before = JSON.stringify({ ...state, store: state.store.version });
    applyEvent(state, { type: "patch_accepted", id: "p1" });
    applyEvent(state, { type: "something_new", step: 3 });
    assert.equal(JSON.stringify({ ...state, store: state.store.version }), before);
    assert.deepEqual(takeDirty(state), clean());
  });
});

test("takeDirty hands over the flags once: a second call finds nothing new", () => {
  const state = started();
  assert.equal(takeDirty(state).charts, true);
  assert.deepEqual(takeDirty(state), clean());
});

test("two states fed the same events stay independent (the run view and the compare view)", () => {
  const a = started();
  const b = started();
  applyEvent(a, { type: "metrics", rows: [{ step: 4, d_loss: 0.4 }] });
  applyEvent(a, { type: "config", step: 4, changes: { "train.lr_d": 0.1 }, config: {} });
  assert.deepEqual(b.store.steps, [1, 2, 3]);
  assert.equal(b.run.changes.length, 1);
});

test("the snapshot's run is copied: a config event does not write into the event the stream handed over", () => {
  const event = snapshot();
  const state = applyEvent(createRunState(), event);
  applyEvent(state, { type: "config", step: 4, changes: { "train.lr_d": 0.1 }, config: {} });
  assert.equal(event.run.changes.length, 1);
});

describe("remaining time", () => {
  test("rough words: tens of seconds under a minute and a half, minutes beyond, nothing when unknown", () => {
    assert.equal(aboutText(43), "about 40 s");
    assert.equal(aboutText(12), "about 10 s");
    assert.equal(aboutText(300), "about 5 min");
    assert.equal(aboutText(3), "almost ready");
    assert.equal(aboutText(-20), "almost ready");
    assert.equal(aboutText(null), null);
  });

  test("the note counts down from the ETA it arrived with", () => {
    const note = applyEvent(createRunState(), PREPARING).preparing;
    assert.equal(preparingText(note, 0), `${PREPARING.message} (about 50 s)`);
    assert.equal(preparingText(note, 25), `${PREPARING.message} (about 20 s)`);
    assert.equal(preparingText({ ...note, eta_s: null }, 25), PREPARING.message);
  });
});

describe("access", () => {
  test("without an access event (a server without users) the page may control the run", () => {
    assert.equal(mayControl(started()), true);
  });

  test("a watcher's access event takes the controls away and is flagged for redrawing", () => {
    const state = started();
    takeDirty(state);
    applyEvent(state, { type: "access", user: "bob", admin: false, owner: "alice", can_control: false, can_share: false });
    assert.equal(mayControl(state), false);
    assert.deepEqual(state.access, { user: "bob", admin: false, owner: "alice", can_control: false, can_share: false });
    assert.equal(takeDirty(state).run, true);
  });

  test("the owner's access event keeps them", () => {
    const state = applyEvent(started(), { type: "access", user: "alice", owner: "alice", can_control: true });
    assert.equal(mayControl(state), true);
    assert.equal(state.access.can_share, false);
  });
});
