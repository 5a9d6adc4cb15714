// diff.js: the overrides sent for a preset-based run or a fork. Anything extra is sent as a change (a fixed field
// in a fork is refused by the server), anything missing is silently dropped.
import assert from "node:assert/strict";
import { test } from "node:test";
import { configDiff } from "../src/diff.js";

const BASE = {
  steps: 5000, seed: 0,
  dataset: { kind: "ring", modes: 8, radius: 2 },
  train: { lr_d: 0.0002, loss: "nonsaturating", betas: [0.5, 0.999] },
  tricks: { unroll_steps: 0, instance_noise: { std: 0, anneal_steps: 0 } },
};
const copy = () => structuredClone(BASE);

test("an unchanged config gives an empty patch (no unchanged section is sent)", () => {
  assert.deepEqual(configDiff(BASE, copy()), {});
});

test("only the changed leaves are sent, nested as in the config", () => {
  const next = copy();
  next.steps = 600;
  next.tricks.instance_noise.std = 0.3;
  assert.deepEqual(configDiff(BASE, next), { steps: 600, tricks: { instance_noise: { std: 0.3 } } });
});

test("arrays are compared by value: the same betas are not a change, other betas are", () => {
  const same = copy();
  same.train.betas = [0.5, 0.999];
  assert.deepEqual(configDiff(BASE, same), {});
  const other = copy();
  other.train.betas = [0.9, 0.999];
  assert.deepEqual(configDiff(BASE, other), { train: { betas: [0.9, 0.999] } });
});

test("a change inside the dataset sends the whole dataset block, since another kind replaces it on the server", () => {
  const next = copy();
  next.dataset.modes = 12;
  assert.deepEqual(configDiff(BASE, next), { dataset: { kind: "ring", modes: 12, radius: 2 } });
  const upload = copy();
  upload.dataset = { kind: "upload", id: "abc" };
  assert.deepEqual(configDiff(BASE, upload), { dataset: { kind: "upload", id: "abc" } });
});

test("a section the base lacks is sent whole; null is a change from a number", () => {
  const next = copy();
  next.model = { hidden: 64 };
  next.train.lr_d = null;
  assert.deepEqual(configDiff(BASE, next), { model: { hidden: 64 }, train: { lr_d: null } });
});
