// sweepmath.js: the sweep page's heatmap and tiles. A wrong grouping puts a cell in the wrong square or averages
// across the axes it should separate, a wrong spread hides how much the seeds disagree, and a wrong refresh rule
// either hammers the samples route or leaves a finished cell's thumbnail stale.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  colourDomain, defaultMetric, fmt, heatmap, inkOn, paramsLabel, progress, reportedMetrics, stats, thumbnailDue,
  viridis, viridisRgb,
} from "../src/sweepmath.js";

const AXES = [{ path: "train.lr_g", values: [1e-4, 1e-3] }, { path: "train.lr_d", values: [1e-4, 1e-3] }];

/** A cell as GET /api/sweeps/{id} gives it. */
function cell(index, lrG, lrD, seed, metrics, extra = {}) {
  return { index, params: { "train.lr_g": lrG, "train.lr_d": lrD }, seed, run_id: `r${index}`, status: "completed",
    step: 300, steps: 300, metrics, ...extra };
}

describe("stats", () => {
  test("mean, min, max and the standard error of the mean", () => {
    const s = stats([2, 4, 6]);
    assert.equal(s.n, 3);
    assert.equal(s.mean, 4);
    assert.equal(s.min, 2);
    assert.equal(s.max, 6);
    assert.ok(Math.abs(s.se - 2 / Math.sqrt(3)) < 1e-12); // sample s.d. 2, over √3
  });

  test("one value has no standard error; none has no stats", () => {
    assert.equal(stats([5]).se, null);
    assert.equal(stats([]), null);
  });
});

describe("heatmap", () => {
  const cells = [
    cell(0, 1e-4, 1e-4, 0, { modes_covered: 2 }), cell(1, 1e-4, 1e-3, 0, { modes_covered: 4 }),
    cell(2, 1e-3, 1e-4, 0, { modes_covered: 0 }), cell(3, 1e-3, 1e-3, 0, { modes_covered: 3 }),
    cell(4, 1e-4, 1e-4, 1, { modes_covered: 2 }), cell(5, 1e-4, 1e-3, 1, { modes_covered: 6 }),
    cell(6, 1e-3, 1e-4, 1, null, { status: "running", step: 10 }), cell(7, 1e-3, 1e-3, 1, { modes_covered: 1 }),
  ];

  test("one square per pair of axis values, each holding its seeds' mean and spread", () => {
    const map = heatmap(AXES, cells, "modes_covered", "train.lr_g", "train.lr_d");
    assert.deepEqual(map.xs, [1e-4, 1e-3]);
    assert.deepEqual(map.ys, [1e-3, 1e-4]); // highest y first: the top row of the table
    const square = map.rows[0][0]; // lr_g 1e-4, lr_d 1e-3
    assert.equal(square.x, 1e-4);
    assert.equal(square.y, 1e-3);
    assert.deepEqual(square.values.map((v) => v.value), [4, 6]);
    assert.equal(square.stats.mean, 5);
    assert.equal(square.stats.min, 4);
    assert.equal(square.stats.max, 6);
  });

  test("a cell without the metric yet counts in its square but not in its mean", () => {
    const square = heatmap(AXES, cells, "modes_covered", "train.lr_g", "train.lr_d").rows[1][1]; // 1e-3, 1e-4
    assert.equal(square.cells.length, 2);
    assert.equal(square.stats.n, 1);
    assert.equal(square.stats.mean, 0);
  });

  test("swapping the axes transposes the map", () => {
    const a = heatmap(AXES, cells, "modes_covered", "train.lr_g", "train.lr_d");
    const b = heatmap(AXES, cells, "modes_covered", "train.lr_d", "train.lr_g");
    // lr_g 1e-3 with lr_d 1e-4: bottom right of the first map, top left of the swapped one
    assert.equal(a.rows[1][1].stats.mean, 0);
    assert.equal(b.rows[0][0].stats.mean, 0);
    // lr_g 1e-4 with lr_d 1e-3: top left of the first, bottom right of the swapped one
    assert.equal(a.rows[0][0].stats.mean, 5);
    assert.equal(b.rows[1][1].stats.mean, 5);
  });

  test("a third axis is pooled into each square", () => {
    const axes = [...AXES, { path: "model.hidden", values: [16, 64] }];
    const three = [
      { ...cell(0, 1e-4, 1e-4, 0, { modes_covered: 1 }), params: { "train.lr_g": 1e-4, "train.lr_d": 1e-4, "model.hidden": 16 } },
      { ...cell(1, 1e-4, 1e-4, 0, { modes_covered: 3 }), params: { "train.lr_g": 1e-4, "train.lr_d": 1e-4, "model.hidden": 64 } },
    ];
    const square = heatmap(axes, three, "modes_covered", "train.lr_g", "train.lr_d").rows[1][0];
    assert.equal(square.stats.n, 2);
    assert.equal(square.stats.mean, 2);
  });

  test("a sweep with one axis is one row; one over seeds alone is one square", () => {
    const one = [{ path: "train.lr_g", values: [1e-4, 1e-3] }];
    const flat = [{ ...cell(0, 1e-4, 0, 0, { modes_covered: 3 }), params: { "train.lr_g": 1e-4 } }];
    const map = heatmap(one, flat, "modes_covered", "train.lr_g", null);
    assert.equal(map.rows.length, 1);
    assert.equal(map.rows[0].length, 2);
    assert.equal(map.rows[0][0].stats.mean, 3);
    const seedsOnly = heatmap([], [{ ...flat[0], params: {} }, { ...flat[0], params: {}, seed: 1, metrics: { modes_covered: 5 } }],
      "modes_covered", null, null);
    assert.equal(seedsOnly.rows.length, 1);
    assert.equal(seedsOnly.rows[0][0].stats.mean, 4);
  });

  test("string values (an activation) group by value, and 1 is not \"1\"", () => {
    const axes = [{ path: "model.activation", values: ["relu", "tanh"] }, { path: "model.layers", values: [1, "1"] }];
    const c = (activation, layers, v) => ({ params: { "model.activation": activation, "model.layers": layers }, seed: 0,
      run_id: "r", metrics: { modes_covered: v } });
    const map = heatmap(axes, [c("tanh", 1, 7), c("tanh", "1", 3)], "modes_covered", "model.activation", "model.layers");
    assert.equal(map.rows[1][1].stats.mean, 7); // y 1 is the bottom row (highest first: "1" was listed later)
    assert.equal(map.rows[0][1].stats.mean, 3);
  });
});

describe("colour scale", () => {
  test("viridis runs from its dark purple to its yellow, clamped outside [0, 1]", () => {
    assert.deepEqual(viridisRgb(0), [68, 1, 84]);
    assert.deepEqual(viridisRgb(1), [253, 231, 37]);
    assert.deepEqual(viridisRgb(-3), viridisRgb(0));
    assert.deepEqual(viridisRgb(7), viridisRgb(1));
    assert.equal(viridis(1), "rgb(253, 231, 37)");
  });

  test("lightness rises monotonically, so the scale reads in grey as well", () => {
    const lum = ([r, g, b]) => 0.2126 * r + 0.7152 * g + 0.0722 * b;
    let last = -1;
    for (let t = 0; t <= 1.0001; t += 0.05) {
      const l = lum(viridisRgb(t));
      assert.ok(l > last, `t ${t}`);
      last = l;
    }
  });

  test("white ink on the dark end, black on the light end", () => {
    assert.equal(inkOn(viridisRgb(0)), "#fff");
    assert.equal(inkOn(viridisRgb(1)), "#000");
  });

  test("the domain spans the squares' means; a single value reaches to 0, or from 0 to 1", () => {
    const map = heatmap(AXES, [cell(0, 1e-4, 1e-4, 0, { fd: 2 }), cell(1, 1e-3, 1e-3, 0, { fd: 8 })], "fd",
      "train.lr_g", "train.lr_d");
    assert.deepEqual(colourDomain(map), [2, 8]);
    const one = heatmap(AXES, [cell(0, 1e-4, 1e-4, 0, { fd: 2 })], "fd", "train.lr_g", "train.lr_d");
    assert.deepEqual(colourDomain(one), [0, 2]);
    const zero = heatmap(AXES, [cell(0, 1e-4, 1e-4, 0, { fd: 0 })], "fd", "train.lr_g", "train.lr_d");
    assert.deepEqual(colourDomain(zero), [0, 1]);
    const negative = heatmap(AXES, [cell(0, 1e-4, 1e-4, 0, { fd: -3 })], "fd", "train.lr_g", "train.lr_d");
    assert.deepEqual(colourDomain(negative), [-3, 0]);
    assert.deepEqual(colourDomain(heatmap(AXES, [], "fd", "train.lr_g", "train.lr_d")), [0, 1]);
  });
});

describe("labels and metrics", () => {
  test("small learning rates in powers of ten, others to 3 significant digits", () => {
    assert.equal(fmt(1e-5), "1e-5");
    assert.equal(fmt(0.000316), "3.16e-4");
    assert.equal(fmt(0.001), "0.001");
    assert.equal(fmt(2.3456), "2.35");
    assert.equal(fmt(8), "8");
    assert.equal(fmt("relu"), "relu");
  });

  test("a cell's params by the last part of each path", () => {
    assert.equal(paramsLabel({ "train.lr_g": 1e-5, "model.activation": "tanh" }), "lr_g 1e-5 · activation tanh");
  });

  test("only the summary metrics some cell reports, modes_covered first choice", () => {
    const cells = [{ metrics: { d_loss: 1, fd: null } }, { metrics: { modes_covered: 3 } }, { metrics: null }];
    const names = reportedMetrics(["d_loss", "g_loss", "modes_covered", "fd"], cells);
    assert.deepEqual(names, ["d_loss", "modes_covered"]);
    assert.equal(defaultMetric(names), "modes_covered");
    assert.equal(defaultMetric(["fd", "d_loss"]), "fd");
    assert.equal(defaultMetric([]), null);
  });

  test("progress counts the cells in a final status out of all, and says which", () => {
    const final = ["completed", "stopped", "failed", "diverged"];
    const order = ["queued", "running", "completed", "stopped", "failed", "diverged", "pending", "cancelled"];
    const p = progress({ pending: 2, completed: 3, diverged: 1, running: 2, renamed: 1 }, final, order);
    assert.equal(p.done, 4);
    assert.equal(p.total, 9);
    assert.equal(p.breakdown, "2 running, 3 completed, 1 diverged, 2 pending, 1 renamed");
    assert.equal(progress({ stopped: 29, completed: 3 }, final, order).breakdown, "3 completed, 29 stopped");
  });
});

describe("thumbnailDue", () => {
  const live = { run_id: "r1", step: 50 };

  test("not before the cell has a run past its first step (its weights exist from step 1)", () => {
    assert.equal(thumbnailDue(undefined, { run_id: null, step: 0 }, false, 0), false);
    assert.equal(thumbnailDue(undefined, { run_id: "r1", step: 1 }, false, 0), false);
    assert.equal(thumbnailDue(undefined, live, false, 0), true);
  });

  test("a live cell again once its step moved and the gap passed, not sooner", () => {
    const last = { runId: "r1", step: 50, at: 1000, final: false };
    assert.equal(thumbnailDue(last, { run_id: "r1", step: 80 }, false, 2000), false);
    assert.equal(thumbnailDue(last, live, false, 9000), false); // same step: same weights
    assert.equal(thumbnailDue(last, { run_id: "r1", step: 80 }, false, 4500), true);
  });

  test("a finished cell once more, then never", () => {
    const last = { runId: "r1", step: 300, at: 1000, final: false };
    assert.equal(thumbnailDue(last, { run_id: "r1", step: 300 }, true, 5000), true);
    assert.equal(thumbnailDue({ ...last, final: true }, { run_id: "r1", step: 300 }, true, 99_000), false);
  });

  test("a failed fetch is retried after the gap", () => {
    const failed = { runId: "r1", step: -1, at: 1000, final: false };
    assert.equal(thumbnailDue(failed, live, false, 1500), false);
    assert.equal(thumbnailDue(failed, live, false, 4100), true);
  });
});
