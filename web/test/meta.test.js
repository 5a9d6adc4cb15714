// meta.js: the page's reading of GET /api/meta. The run view's buttons, controls and charts follow it, so a wrong
// reading shows as a Pause button on a paused run or a chart with a missing or unlabelled line.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { alertTitle, allows, cellOrder, chartedMetrics, chartSpecs, metricLabel, statusIn, summaryMetrics } from "../src/meta.js";
import { META } from "./fixtures.js";

describe("statuses", () => {
  test("each action is allowed exactly in the statuses the server lists for it", () => {
    for (const [action, allowed] of Object.entries(META.statuses.actions)) {
      for (const status of META.statuses.all) {
        assert.equal(allows(META, action, status), allowed.includes(status), `${action} on ${status}`);
      }
    }
    assert.equal(allows(META, "resume", "interrupted"), true);
    assert.equal(allows(META, "pause", "paused"), false);
  });

  test("an action the server does not list is allowed nowhere", () => {
    assert.equal(allows(META, "rewind", "running"), false);
  });

  test("group membership follows the server: queued is live but not patchable, interrupted neither live nor final", () => {
    assert.equal(statusIn(META, "live", "queued"), true);
    assert.equal(statusIn(META, "patchable", "queued"), false);
    assert.equal(statusIn(META, "patchable", "starting"), true);
    assert.equal(statusIn(META, "live", "interrupted"), false);
    assert.equal(statusIn(META, "final", "interrupted"), false);
    assert.equal(statusIn(META, "final", "diverged"), true);
  });

  test("a status the server adds later belongs to the groups it is listed in, with no page change", () => {
    const newer = structuredClone(META);
    newer.statuses.live.push("warming");
    newer.statuses.actions.stop.push("warming");
    assert.equal(statusIn(newer, "live", "warming"), true);
    assert.equal(allows(newer, "stop", "warming"), true);
  });
});

test("alert titles and metric labels come from meta; an unknown kind or metric shows as its own name", () => {
  assert.equal(alertTitle(META, "d_overpowering"), "The discriminator is overpowering the generator");
  assert.equal(alertTitle(META, "new_kind"), "new_kind");
  assert.equal(metricLabel(META, "it_per_s"), "it/s");
  assert.equal(metricLabel(META, "fd"), "fd");
});

describe("charts", () => {
  test("chartSpecs keeps the server's charts and testids, and labels every series (the metric's label if none)", () => {
    const specs = chartSpecs(META);
    assert.deepEqual(specs.map((c) => [c.id, c.testid, c.points]),
      [["loss", "loss-chart", false], ["quality", undefined, true], ["speed", undefined, false], ["again", undefined, false]]);
    assert.deepEqual(specs[1].series, [{ name: "modes_covered", label: "modes covered", axis: "y" },
      { name: "hq_fraction", label: "hq fraction", axis: "y2" }]);
  });

  test("chartSpecs does not change the meta it reads (views built later see it as served)", () => {
    const before = structuredClone(META);
    chartSpecs(META);
    assert.deepEqual(META, before);
  });

  test("chartedMetrics: each charted metric once, in chart order, with its label", () => {
    assert.deepEqual(chartedMetrics(META), [{ name: "d_loss", label: "D loss" }, { name: "g_loss", label: "G loss" },
      { name: "modes_covered", label: "modes covered" }, { name: "hq_fraction", label: "hq fraction" },
      { name: "it_per_s", label: "it/s" }]);
  });
});

describe("summary", () => {
  test("the run list shows exactly the metrics the server marks as summary, in its order", () => {
    assert.deepEqual(summaryMetrics(META), ["d_loss", "g_loss", "modes_covered"]);
  });
});

describe("sweeps", () => {
  test("a cell's statuses: the runs' lifecycle, then those of a cell without a run, as the server lists them", () => {
    const withSweeps = { ...META, sweeps: { statuses: ["running", "finished", "stopped"],
      cell_statuses: ["pending", "cancelled", "deleted"], max_cells: 64, max_seeds: 16 } };
    assert.deepEqual(cellOrder(withSweeps), [...META.statuses.all, "pending", "cancelled", "deleted"]);
  });

  test("a server without sweeps in its meta still orders the runs' statuses", () => {
    assert.deepEqual(cellOrder(META), META.statuses.all);
  });
});
