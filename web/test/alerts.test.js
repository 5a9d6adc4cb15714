// alerts.js: which fix the banner offers. The fix is the server's (made from the run's config); the page only
// decides whether to offer it, and must not offer one that is already in effect or cannot apply.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { applied, offeredFix } from "../src/alerts.js";

const CONFIG = {
  train: { loss: "minimax", betas: [0.5, 0.999] },
  tricks: { unroll_steps: 0, instance_noise: { std: 0.3, anneal_steps: 0 } },
};
const UNROLL = { label: "unroll D 5 steps", patch: { tricks: { unroll_steps: 5 } } };
const alert = (fix, extra = {}) => ({ step: 120, kind: "mode_collapse", message: "…", cleared: false, fix, ...extra });

describe("applied", () => {
  test("true only when every leaf of the patch already has its value", () => {
    assert.equal(applied({ tricks: { instance_noise: { std: 0.3 } } }, CONFIG), true);
    assert.equal(applied({ tricks: { instance_noise: { std: 0.3, anneal_steps: 1000 } } }, CONFIG), false);
    assert.equal(applied({ tricks: { unroll_steps: 5 } }, CONFIG), false);
    assert.equal(applied({ train: { loss: "minimax" }, tricks: { unroll_steps: 0 } }, CONFIG), true);
  });

  test("a section or leaf the config lacks is not applied (and does not throw)", () => {
    assert.equal(applied({ tricks: { feature_matching: { enabled: true } } }, CONFIG), false);
    assert.equal(applied({ model: { hidden: 64 } }, CONFIG), false);
  });

  test("a list value counts as applied when it is equal, not only when it is the same array", () => {
    assert.equal(applied({ train: { betas: [0.5, 0.999] } }, CONFIG), true);
    assert.equal(applied({ train: { betas: [0.9, 0.999] } }, CONFIG), false);
    assert.equal(applied({ train: { betas: [0.5] } }, CONFIG), false);
  });
});

describe("offeredFix", () => {
  test("a live run's raised alert offers the server's own fix", () => {
    assert.equal(offeredFix(alert(UNROLL), CONFIG, true), UNROLL);
  });

  test("nothing is offered once the fix is in effect (applied by hand, or by an earlier click)", () => {
    const done = { ...CONFIG, tricks: { ...CONFIG.tricks, unroll_steps: 5 } };
    assert.equal(offeredFix(alert(UNROLL), done, true), null);
  });

  test("nothing is offered for a cleared alert, a run that is over, or an alert without a fix", () => {
    assert.equal(offeredFix(alert(UNROLL, { cleared: true }), CONFIG, true), null);
    assert.equal(offeredFix(alert(UNROLL), CONFIG, false), null);
    assert.equal(offeredFix(alert(null), CONFIG, true), null);
    assert.equal(offeredFix(undefined, CONFIG, true), null);
  });
});
