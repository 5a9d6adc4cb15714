// store.js: a run's metric history as uPlot columns. Its bugs show as wrong charts: duplicated points after a
// reconnect, shifted columns when a metric appears late, lost quality points when a long run is thinned.
import assert from "node:assert/strict";
import { test } from "node:test";
import { MAX_POINTS, MetricStore } from "../src/store.js";

const history = () => ({ steps: [1, 2, 3], series: { d_loss: [0.7, 0.6, 0.5], g_loss: [0.8, 0.9, 1.0] } });

test("load copies the snapshot's history and change log: later edits of the snapshot do not leak in", () => {
  const h = history();
  const changes = [{ step: 2, changes: { "tricks.unroll_steps": 5 } }];
  const store = new MetricStore();
  store.load(h, changes);
  h.steps.push(4);
  h.series.d_loss.push(0.1);
  changes.push({ step: 3, changes: {} });
  assert.deepEqual(store.steps, [1, 2, 3]);
  assert.deepEqual(store.columns.get("d_loss"), [0.7, 0.6, 0.5]);
  assert.equal(store.changes.length, 1);
});

test("append skips rows the snapshot already holds, so a reconnect does not draw them twice", () => {
  const store = new MetricStore();
  store.load(history(), []);
  store.append([{ step: 2, d_loss: 9, g_loss: 9 }, { step: 3, d_loss: 9, g_loss: 9 }, { step: 4, d_loss: 0.4, g_loss: 1.1 }]);
  assert.deepEqual(store.steps, [1, 2, 3, 4]);
  assert.deepEqual(store.columns.get("d_loss"), [0.7, 0.6, 0.5, 0.4]);
});

test("a metric first seen in a live row gets nulls for the steps before it; a missing one gets null", () => {
  const store = new MetricStore();
  store.load(history(), []);
  store.append([{ step: 4, d_loss: 0.4, modes_covered: 3 }]);
  assert.deepEqual(store.columns.get("modes_covered"), [null, null, null, 3]);
  assert.deepEqual(store.columns.get("g_loss"), [0.8, 0.9, 1.0, null]);
  for (const column of store.columns.values()) assert.equal(column.length, store.steps.length);
});

test("non-finite values (a diverging loss) are stored as gaps, not as numbers", () => {
  const store = new MetricStore();
  store.append([{ step: 1, d_loss: NaN, g_loss: Infinity }, { step: 2, d_loss: "0.5", g_loss: 0.2 }]);
  assert.deepEqual(store.columns.get("d_loss"), [null, null]);
  assert.deepEqual(store.columns.get("g_loss"), [null, 0.2]);
});

test("has is false for a column of nulls only; last gives the newest non-null value", () => {
  const store = new MetricStore();
  store.append([{ step: 1, d_loss: 0.5, fd: null }, { step: 2, d_loss: 0.4 }, { step: 3, fd: 12 }, { step: 4, d_loss: 0.3 }]);
  assert.equal(store.has("d_loss"), true);
  assert.equal(store.has("nothing"), false);
  assert.equal(store.last("fd"), 12);
  assert.equal(store.last("nothing"), null);
  const empty = new MetricStore();
  empty.append([{ step: 1, fd: null }]);
  assert.equal(empty.has("fd"), false);
});

test("past MAX_POINTS the history is thinned, keeping the newest point and every sparse quality value", () => {
  const store = new MetricStore();
  const rows = [];
  for (let step = 1; step <= MAX_POINTS + 2; step++) { // the newest and every fd value sit at odd indices
    rows.push({ step, d_loss: step, ...(step % 100 === 0 ? { fd: step } : {}) });
  }
  store.append(rows);
  assert.ok(store.steps.length <= MAX_POINTS, `${store.steps.length} points kept`);
  assert.equal(store.steps[store.steps.length - 1], MAX_POINTS + 2);
  const fd = store.columns.get("fd").filter((v) => v !== null);
  assert.equal(fd.length, rows.filter((r) => "fd" in r).length);
  for (const column of store.columns.values()) assert.equal(column.length, store.steps.length);
  assert.deepEqual(store.columns.get("d_loss"), store.steps); // each value stays with its own step
});

test("every change bumps the version, so views redraw only when something is new", () => {
  const store = new MetricStore();
  const seen = [store.version];
  store.load(history(), []);
  seen.push(store.version);
  store.append([{ step: 4, d_loss: 0.1 }]);
  seen.push(store.version);
  store.addChange(4, { "train.lr_d": 0.001 });
  seen.push(store.version);
  assert.equal(new Set(seen).size, 4);
  assert.deepEqual(store.changes, [{ step: 4, changes: { "train.lr_d": 0.001 } }]);
});
