// setuplink.js: a shared setup link carries a config as a preset plus its differences, reads back to the same
// config, and a link with bad parts fills in what it can and names each part it could not use.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { applySetup, formatValue, readSetupQuery, schemaDefaults, setupDiff, setupQuery } from "../src/setuplink.js";
import { SCHEMA } from "./fixtures.js";

// The fixture schema with a boolean field, as the real schema has (tricks.feature_matching.enabled and others).
const schema = structuredClone(SCHEMA);
schema.$defs.TricksConfig.properties.spectral_norm = { type: "boolean", default: false, live: false };
const defaults = schemaDefaults(schema);
const preset = (name, patch) => {
  const config = structuredClone(defaults);
  for (const [k, v] of Object.entries(patch)) config.tricks[k] = v;
  return { name, config };
};
const PRESETS = [preset("ring-vanilla", {}), preset("ring-unrolled", { unroll_steps: 5 })];
const read = (query) => applySetup({ schema, presets: PRESETS, defaults, query: readSetupQuery(query) });

describe("schemaDefaults", () => {
  test("every field at its default, nullable ones null, the dataset as the default kind's block", () => {
    assert.equal(defaults.steps, 5000);
    assert.equal(defaults.train.clip, null);
    assert.deepEqual(defaults.train.betas, [0.5, 0.999]);
    assert.deepEqual(defaults.dataset, { kind: "ring", modes: 8 });
    assert.equal(defaults.tricks.spectral_norm, false);
  });
});

describe("setupQuery", () => {
  test("the issue's example: a preset and one changed setting, readable", () => {
    const config = structuredClone(PRESETS[0].config);
    config.tricks.unroll_steps = 5;
    assert.equal(setupQuery({ preset: "ring-vanilla", base: PRESETS[0].config, config }),
      "?preset=ring-vanilla&set=tricks.unroll_steps=5");
  });

  test("a config equal to its preset is the preset alone; a custom run's is its differences from the defaults", () => {
    assert.equal(setupQuery({ preset: "ring-vanilla", base: PRESETS[0].config, config: PRESETS[0].config }),
      "?preset=ring-vanilla");
    const config = structuredClone(defaults);
    config.train.lr_d = 0.000123456789;
    assert.equal(setupQuery({ base: defaults, config }), "?set=train.lr_d=0.000123456789");
  });

  test("numbers keep their full precision, pairs are a,b, null is null, booleans true/false", () => {
    assert.equal(formatValue(0.1 + 0.2), "0.30000000000000004");
    assert.equal(formatValue([0.5, 0.99]), "0.5,0.99");
    assert.equal(formatValue(null), "null");
    assert.equal(formatValue(true), "true");
  });

  test("another dataset kind is given whole, its kind first", () => {
    const config = structuredClone(defaults);
    config.dataset = { kind: "upload", id: "a".repeat(32) };
    assert.deepEqual(setupDiff(defaults, config), [["dataset.kind", "upload"], ["dataset.id", "a".repeat(32)]]);
  });

  test("characters that would break the query are escaped", () => {
    const config = structuredClone(defaults);
    config.device = "a&b #c";
    assert.equal(setupQuery({ base: defaults, config }), "?set=device=a%26b%20%23c");
    assert.deepEqual(read("?set=device=a%26b%20%23c").errors, ["set=device=a&b #c: device must match ^(auto|cpu|cuda(:\\d+)?)$"]);
  });
});

describe("applySetup", () => {
  test("a link built from a config reads back to that same config (round trip)", () => {
    const config = structuredClone(PRESETS[1].config);
    Object.assign(config.train, { lr_d: 0.0003, betas: [0.1, 0.2], clip: 2.5, loss: "wgan" });
    Object.assign(config, { seed: 7, steps: 123 });
    config.tricks.spectral_norm = true;
    config.tricks.instance_noise.std = 0.1;
    const query = setupQuery({ preset: "ring-unrolled", base: PRESETS[1].config, config });
    const back = read(query);
    assert.deepEqual(back.errors, []);
    assert.equal(back.preset, "ring-unrolled");
    assert.deepEqual(back.config, config);
  });

  test("a setting set back to null, and a dataset of another kind, read back too", () => {
    const base = structuredClone(defaults);
    base.train.clip = 1;
    const config = structuredClone(defaults);
    config.dataset = { kind: "upload", id: "0123456789abcdef0123456789abcdef" };
    const back = applySetup({ schema, presets: [{ name: "p", config: base }], defaults,
      query: readSetupQuery(setupQuery({ preset: "p", base, config })) });
    assert.deepEqual(back.errors, []);
    assert.deepEqual(back.config, config);
  });

  test("the kind of the dataset applies first whatever its place in the link", () => {
    const back = read("?set=dataset.id=0123456789abcdef0123456789abcdef&set=dataset.kind=upload");
    assert.deepEqual(back.errors, []);
    assert.deepEqual(back.config.dataset, { kind: "upload", id: "0123456789abcdef0123456789abcdef" });
  });

  test("no preset: the defaults with the settings applied", () => {
    const back = read("?set=steps=10");
    assert.equal(back.preset, null);
    assert.equal(back.config.steps, 10);
    assert.deepEqual(back.applied, [["steps", 10]]);
  });

  test("an unknown path is named, with the setting it probably meant; the valid parts still apply", () => {
    const back = read("?preset=ring-vanilla&set=unroll_steps=5&set=steps=10");
    assert.deepEqual(back.errors, ['set=unroll_steps=5: there is no setting "unroll_steps" (did you mean tricks.unroll_steps?)']);
    assert.equal(back.config.steps, 10);
    assert.equal(back.config.tricks.unroll_steps, 0);
  });

  test("a shortened or mistyped name suggests the setting in its section", () => {
    assert.deepEqual(read("?set=tricks.unroll=5&set=train.lr_dd=1&set=zzz=1").errors, [
      'set=tricks.unroll=5: there is no setting "tricks.unroll" (did you mean tricks.unroll_steps?)',
      'set=train.lr_dd=1: there is no setting "train.lr_dd" (did you mean train.lr_d?)',
      'set=zzz=1: there is no setting "zzz"',
    ]);
  });

  test("a bad value says what the field accepts, and leaves the preset's value", () => {
    const back = read("?preset=ring-unrolled&set=tricks.unroll_steps=abc&set=tricks.unroll_steps=99&set=train.loss=hinge"
      + "&set=tricks.spectral_norm=yes");
    assert.deepEqual(back.errors, [
      "set=tricks.unroll_steps=abc: tricks.unroll_steps must be a number",
      "set=tricks.unroll_steps=99: tricks.unroll_steps must be at most 20",
      "set=train.loss=hinge: train.loss must be one of minimax, nonsaturating, wgan",
      "set=tricks.spectral_norm=yes: tricks.spectral_norm must be true or false",
    ]);
    assert.equal(back.config.tricks.unroll_steps, 5);
  });

  test("an unknown preset, a part without a value and a field of another dataset kind are each named", () => {
    const back = read("?preset=nope&set=steps&set=dataset.id=x");
    assert.deepEqual(back.errors, [
      'preset=nope: there is no preset "nope"; the settings start from the defaults',
      "set=steps: write it as set=path=value, e.g. set=tricks.unroll_steps=5",
      'set=dataset.id=x: the ring dataset has no setting "id"',
    ]);
    assert.equal(back.preset, null);
    assert.deepEqual(back.config, defaults);
  });

  test("an address without preset or set is no setup link", () => {
    assert.equal(readSetupQuery("?run=abc"), null);
    assert.equal(readSetupQuery(""), null);
    assert.deepEqual(readSetupQuery("?preset=a&set=x=1&set=y=2"), { preset: "a", sets: ["x=1", "y=2"] });
  });
});
