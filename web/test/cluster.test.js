// cluster.js: the header's line about the Ray cluster, from /api/health's `cluster`.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { clusterSummary } from "../src/cluster.js";

const node = (cpus, gpus = 0, alive = true) => ({ id: "n", address: "10.0.0.1", alive, cpus, gpus });
const connected = (nodes, free_cpus, free_gpus = 0) =>
  ({ address: "ray://head:10001", connected: true, error: null, nodes, free_cpus, free_gpus });

describe("clusterSummary", () => {
  test("a server without a cluster (the local executor) says nothing", () => {
    assert.equal(clusterSummary(null), null);
    assert.equal(clusterSummary(undefined), null);
  });

  test("counts the live nodes that can train (not a head with no CPUs, not a dead node) and the free room", () => {
    const summary = clusterSummary(connected([node(0), node(1), node(1), node(4, 0, false)], 2));
    assert.deepEqual(summary, { state: "connected", text: "Ray cluster: 2 training nodes, 2 free CPUs" });
  });

  test("names free GPUs, fractions included, only when a node has GPUs", () => {
    const summary = clusterSummary(connected([node(8, 1)], 7, 0.5));
    assert.equal(summary.text, "Ray cluster: 1 training node, 7 free CPUs, 0.5 free GPUs");
    assert.equal(clusterSummary(connected([node(1, 1)], 1, 1)).text, "Ray cluster: 1 training node, 1 free CPU, 1 free GPU");
  });

  test("a lost link says why, that its runs were interrupted, and that the server reconnects", () => {
    const summary = clusterSummary({ address: "auto", connected: false, error: "ConnectionError: head gone", nodes: [] });
    assert.equal(summary.state, "lost");
    assert.match(summary.text, /unreachable \(ConnectionError: head gone\)/);
    assert.match(summary.text, /interrupted/);
    assert.match(summary.text, /reconnecting/);
  });

  test("once reconnected, a past loss is still told: when, why, and how many runs it interrupted", () => {
    const at = Date.UTC(2026, 11, 2, 18, 30, 5) / 1000;
    const cluster = { ...connected([node(1), node(1)], 2), last_lost: { at, error: "the bridge ended", interrupted: 3 } };
    const summary = clusterSummary(cluster);
    assert.equal(summary.state, "connected");
    assert.match(summary.text, /^Ray cluster: 2 training nodes, 2 free CPUs · reconnected after losing it at /);
    assert.match(summary.text, new RegExp(new Date(at * 1000).toLocaleTimeString()));
    assert.match(summary.text, /\(the bridge ended\), 3 runs interrupted \(resume them\)$/);
    const none = clusterSummary({ ...cluster, last_lost: { at, error: "x", interrupted: 0 } });
    assert.doesNotMatch(none.text, /interrupted/);
  });

  test("while the first connection is being made it says so, not that runs were interrupted", () => {
    const summary = clusterSummary({ address: "auto", connected: false, error: "connecting", nodes: [] });
    assert.deepEqual(summary, { state: "connecting", text: "Ray cluster: connecting to auto…" });
  });
});
