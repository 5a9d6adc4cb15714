// lessons.js: the gallery keeps the chapter's order, pairs each fix with the problem on the same data, starts the
// fix on the problem's seed, and only lets a stored run of exactly that preset stand for its picture.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { lessonCards, lessonPairs, pairOverrides } from "../src/lessons.js";

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

