// lessons.js: the gallery keeps the chapter's order, pairs each fix with the problem on the same data, starts the
// fix on the problem's seed, and only lets a stored run of exactly that preset stand for its picture.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { lessonCards, lessonPairs, pairOverrides, pictureCandidates, sameSetup } from "../src/lessons.js";

const preset = (name, kind, seed = 0, extra = {}) => ({ name, config: { seed, device: "auto", steps: 100,
  dataset: { kind }, tricks: { unroll_steps: 0, ...extra } } });
const PRESETS = [preset("dirac-gan", "dirac"), preset("dirac-gan-simultaneous", "dirac"), preset("ring-vanilla", "ring"),
  preset("dirac-gan-noise", "dirac"), preset("dirac-gan-r1", "dirac", 3), preset("grid-vanilla", "grid"),
  preset("ring-unrolled", "ring", 0, { unroll_steps: 5 }), preset("grid-unrolled", "grid"), preset("digits-dcgan", "digits")];
const lesson = (name, problem, fix, sweeps = []) => ({ name, kind: problem.length ? "problem" : "fix", title: name,
  chapter: "", problem, fix, sweeps, watch: [] });
const LESSONS = [
  lesson("non-convergence", ["dirac-gan", "dirac-gan-simultaneous", "ring-vanilla"], ["dirac-gan-noise", "dirac-gan-r1"]),
  lesson("mode-collapse", ["ring-vanilla", "grid-vanilla"], ["ring-unrolled", "grid-unrolled"]),
  lesson("hyperparameter-sensitivity", [], [], ["sensitivity-lr"]),
  lesson("dcgan", [], ["digits-dcgan", "fashion-dcgan"]),
];

describe("lessonCards", () => {
  test("one card per lesson, in the order the server gave (the chapter's)", () => {
    assert.deepEqual(lessonCards(LESSONS, PRESETS).map((c) => c.lesson.name),
      ["non-convergence", "mode-collapse", "hyperparameter-sensitivity", "dcgan"]);
    const reversed = [...LESSONS].reverse();
    assert.deepEqual(lessonCards(reversed, PRESETS).map((c) => c.lesson.name), reversed.map((l) => l.name));
  });

  test("a fix shown on its own is a solo preset, and presets the server lacks are left out", () => {
    const [, , sweep, dcgan] = lessonCards(LESSONS, PRESETS);
    assert.deepEqual(dcgan.pairs, []);
    assert.deepEqual(dcgan.solo, ["digits-dcgan"]);
    assert.deepEqual(sweep.pairs, []);
    assert.deepEqual(sweep.solo, []);
  });
});

describe("lessonPairs", () => {
  test("each fix beside the first problem on the same kind of data", () => {
    assert.deepEqual(lessonPairs(LESSONS[0], PRESETS), [{ problem: "dirac-gan", fix: "dirac-gan-noise" },
      { problem: "dirac-gan", fix: "dirac-gan-r1" }]);
    assert.deepEqual(lessonPairs(LESSONS[1], PRESETS), [{ problem: "ring-vanilla", fix: "ring-unrolled" },
      { problem: "grid-vanilla", fix: "grid-unrolled" }]);
  });

  test("without a problem on the same data, the problem at the fix's position", () => {
    const odd = lesson("odd", ["ring-vanilla", "grid-vanilla"], ["dirac-gan-noise", "digits-dcgan"]);
    assert.deepEqual(lessonPairs(odd, PRESETS), [{ problem: "ring-vanilla", fix: "dirac-gan-noise" },
      { problem: "grid-vanilla", fix: "digits-dcgan" }]);
  });
});

describe("pairOverrides", () => {
  test("the fix starts on the problem's seed: no override when they agree, the seed when they do not", () => {
    const get = (n) => PRESETS.find((p) => p.name === n);
    assert.deepEqual(pairOverrides(get("ring-vanilla"), get("ring-unrolled")), {});
    assert.deepEqual(pairOverrides(get("dirac-gan"), get("dirac-gan-r1")), { seed: 0 });
  });
});

describe("pictureCandidates", () => {
  const run = (id, extra) => ({ id, preset: "ring-vanilla", status: "completed", step: 100, checkpoint_step: 100,
    parent_id: null, sweep_id: null, ...extra });
  test("runs of that preset with weights, ended before live, further trained first, then newest", () => {
    const runs = [run("live", { status: "running", step: 900, checkpoint_step: null }), run("short", { step: 50 }),
      run("long", { step: 3000 }), run("long-older", { step: 3000 })];
    assert.deepEqual(pictureCandidates(runs, "ring-vanilla", ["running"]).map((r) => r.id),
      ["long", "long-older", "short", "live"]);
  });

  test("forks, sweep cells, other presets and runs with nothing trained yet are never candidates", () => {
    const runs = [run("fork", { parent_id: "x" }), run("cell", { sweep_id: "s" }), run("other", { preset: "grid-vanilla" }),
      run("fresh", { status: "queued", step: 0, checkpoint_step: null })];
    assert.deepEqual(pictureCandidates(runs, "ring-vanilla", ["queued"]), []);
  });
});

describe("sameSetup", () => {
  test("a run is its preset's up to seed, device and length, and not when any other setting differs", () => {
    const base = PRESETS[2].config;
    assert.ok(sameSetup(base, { ...structuredClone(base), seed: 9, device: "cpu", steps: 5 }));
    const changed = structuredClone(base);
    changed.tricks.unroll_steps = 5;
    assert.ok(!sameSetup(base, changed));
    const reordered = { tricks: base.tricks, dataset: base.dataset, steps: 1, device: "auto", seed: 0 };
    assert.ok(sameSetup(base, reordered));
  });
});
