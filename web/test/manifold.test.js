// manifold.js: the manifold layer's lines. A wrong reading shows as a grid joined across the wrong neighbours (a
// scribble instead of a warped sheet) or as nothing drawn.
import assert from "node:assert/strict";
import { test } from "node:test";
import { manifoldLines } from "../src/manifold.js";

const NESTED = [[[0, 0], [1, 0], [2, 0]], [[0, 1], [1, 1], [2, 1]]]; // 2 rows × 3 columns

test("a grid of R rows and C columns is R row lines of C points then C column lines of R points", () => {
  const lines = manifoldLines(NESTED, [2, 3, 2]);
  assert.equal(lines.length, 5);
  assert.deepEqual(lines[1], [[0, 1], [1, 1], [2, 1]]);
  assert.deepEqual(lines[2], [[0, 0], [0, 1]]);
  assert.deepEqual(lines[4], [[2, 0], [2, 1]]);
});

test("a flat typed array read with its shape gives the same lines as the nested lists", () => {
  const flat = Float32Array.from(NESTED.flat(2));
  assert.deepEqual(manifoldLines(flat, [2, 3, 2]), manifoldLines(NESTED));
});

test("no manifold, or a flat array whose shape does not fit it, draws nothing", () => {
  assert.deepEqual(manifoldLines(undefined), []);
  assert.deepEqual(manifoldLines([], [0, 0, 2]), []);
  assert.deepEqual(manifoldLines(new Float32Array(10), [2, 3, 2]), []);
  assert.deepEqual(manifoldLines(new Float32Array(12), undefined), []);
});
