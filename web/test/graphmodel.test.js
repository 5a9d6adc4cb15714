// graphmodel.js: what the model graph shows. A wrong answer shows as a trick lit up that the run does not use (or
// dark while it acts), or an edge that says a value the run never reported.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { activeTricks, edgeLabels, newestRow, num, switchedOn, trickDetails, TRICKS } from "../src/graphmodel.js";
import { MetricStore } from "../src/store.js";

/** The tricks block of models/config.py's defaults: every trick off. */
function config(tricks = {}) {
  const base = { label_smoothing: 0, instance_noise: { std: 0, anneal_steps: 0 }, unroll_steps: 0, unroll_lr: null,
    unroll_order: "second", feature_matching: { enabled: false, weight: 1, keep_adversarial: false },
    replay: { size: 0, fraction: 0.5 }, pack: 1, r1_gamma: 0 };
  return { tricks: { ...base, ...tricks } };
}

describe("active tricks", () => {
  test("the default config has every trick off", () => {
    assert.deepEqual(Object.values(activeTricks(config())), TRICKS.map(() => false));
  });

  test("each trick is on exactly when its own setting leaves its off value", () => {
    const cases = {
      instance_noise: { instance_noise: { std: 0.1, anneal_steps: 0 } },
      label_smoothing: { label_smoothing: 0.1 },
      unroll: { unroll_steps: 5 },
      replay: { replay: { size: 1000, fraction: 0.5 } },
      feature_matching: { feature_matching: { enabled: true, weight: 1, keep_adversarial: false } },
      pack: { pack: 2 },
      r1: { r1_gamma: 10 },
    };
    assert.deepEqual(Object.keys(cases).sort(), TRICKS.map((t) => t.id).sort());
    for (const [id, tricks] of Object.entries(cases)) {
      const on = activeTricks(config(tricks));
      assert.deepEqual(Object.keys(on).filter((k) => on[k]), [id], id);
    }
  });

  test("a replay fraction or feature-matching weight alone does not switch its trick on", () => {
    const on = activeTricks(config({ replay: { size: 0, fraction: 0.9 },
      feature_matching: { enabled: false, weight: 5, keep_adversarial: true } }));
    assert.equal(on.replay, false);
    assert.equal(on.feature_matching, false);
  });

  test("a config without a tricks block has every trick off rather than throwing", () => {
    assert.deepEqual(Object.values(activeTricks({})), TRICKS.map(() => false));
    assert.deepEqual(Object.values(activeTricks(null)), TRICKS.map(() => false));
  });

  test("switchedOn names the tricks a live change turned on, not those already on or turned off", () => {
    const before = config({ unroll_steps: 5, r1_gamma: 1 });
    const after = config({ unroll_steps: 5, label_smoothing: 0.1 });
    assert.deepEqual(switchedOn(before, after), ["label_smoothing"]);
  });
});

describe("labels", () => {
  test("edges carry the newest values, labelled by the server's metric labels", () => {
    const labels = { d_real: "D(x) real", d_fake: "D(G(z)) fake" };
    const row = { d_real: 0.7312, d_fake: 0.25, d_loss: 1.2, g_loss: 0.81234, grad_norm_d: 0.00012, grad_norm_g: null };
    const text = edgeLabels(row, (name) => labels[name] || name);
    assert.equal(text.d_real, "D(x) real 0.731");
    assert.equal(text.d_fake, "D(G(z)) fake 0.25");
    assert.equal(text.g_loss, "g_loss 0.812");
    assert.equal(text.grad_norm_d, "grad_norm_d 1.2e-4");
    assert.equal(text.grad_norm_g, "grad_norm_g –"); // not reported yet: a dash, never "null" or "NaN"
  });

  test("numbers keep three significant digits and switch to exponents far from 1", () => {
    assert.deepEqual([num(0), num(1.23456), num(-12.345), num(123456), num(NaN), num(undefined)],
      ["0", "1.23", "-12.3", "1.2e+5", "–", "–"]);
  });

  test("a trick's detail reads the live value where the run reports one (annealed σ), its setting otherwise", () => {
    const c = config({ instance_noise: { std: 0.5, anneal_steps: 1000 }, label_smoothing: 0.2, unroll_steps: 1 });
    const lines = trickDetails(c, { noise_std: 0.25 });
    assert.equal(lines.instance_noise, "σ 0.25");
    assert.equal(trickDetails(c, {}).instance_noise, "σ 0.5");
    assert.equal(lines.label_smoothing, "real target 0.8");
    assert.equal(lines.unroll, "look ahead 1 D step");
    assert.equal(lines.r1, ""); // off: no detail
  });

  test("newestRow takes each metric's last reported value from the store", () => {
    const store = new MetricStore();
    store.append([{ step: 1, d_real: 0.6, d_loss: 1.3 }, { step: 2, d_loss: 1.1 }]);
    const row = newestRow(store);
    assert.equal(row.d_real, 0.6); // step 2 did not report it: the last value that was reported
    assert.equal(row.d_loss, 1.1);
    assert.equal(row.g_loss, null);
  });
});
