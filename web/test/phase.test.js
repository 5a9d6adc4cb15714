// phase.js: the Dirac-GAN portrait's maths. A wrong view square cuts off the trajectory or the field, a wrong
// transform turns the circle the wrong way or off-centre, a wrong arrow scale hides the field near the equilibrium,
// and a wrong thinning loses where the run is now.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { arrows, thin, ticks, trajectory, transform, viewHalf } from "../src/phase.js";

describe("viewHalf", () => {
  test("is at least the least square when the field and the path are small", () => {
    assert.equal(viewHalf([-1, 1, -1, 1], [[0.5, 0.5]]), 2);
  });

  test("holds the field frame's square", () => {
    assert.equal(viewHalf([-3.5, 3.5, -3.5, 3.5], [[1, 1]]), 3.5);
  });

  test("holds every point of a trajectory that left the field's square, with a margin, rounded up to a half", () => {
    const half = viewHalf([-2, 2, -2, 2], [[1, 1], [2.9, -0.2], [-0.5, -3.1]]);
    assert.ok(half >= 3.1 * 1.1, String(half));
    assert.equal(half * 2, Math.round(half * 2));
    assert.equal(half, 3.5);
  });

  test("ignores a diverged step's NaN or infinity instead of showing an infinite square", () => {
    assert.equal(viewHalf([-2, 2, -2, 2], [[NaN, 1], [1, Infinity]]), 2);
  });
});

describe("transform", () => {
  test("puts the equilibrium in the middle and the square's corners at the padded corners, ψ upwards", () => {
    const t = transform(2, 500, 30);
    assert.equal(t.px(0), 250);
    assert.equal(t.py(0), 250);
    assert.equal(t.px(-2), 30);
    assert.equal(t.px(2), 470);
    assert.equal(t.py(2), 30); // the top of the canvas is the largest ψ
    assert.equal(t.py(-2), 470);
  });

  test("pixel → world undoes world → pixel", () => {
    const t = transform(3.5, 480, 20);
    for (const v of [-3.5, -1.25, 0, 0.7, 3.5]) {
      assert.ok(Math.abs(t.theta(t.px(v)) - v) < 1e-12);
      assert.ok(Math.abs(t.psi(t.py(v)) - v) < 1e-12);
    }
  });
});

describe("arrows", () => {
  const frame = {
    theta: [-1, 0, 1], psi: [-1, 0, 1],
    // row i at ψ = psi[i], column j at θ = theta[j]: a rotation (dθ, dψ) = (−ψ, θ), scaled by 4 in one corner
    vectors: [[[1, -1], [1, 0], [1, 1]], [[0, -1], [0, 0], [0, 1]], [[-4, -4], [-1, 0], [-1, 1]]],
  };
  const t = transform(1, 220, 10); // grid spacing 100 px

  test("one arrow per non-zero vector, starting at its grid point", () => {
    const list = arrows(frame, t);
    assert.equal(list.length, 8); // the zero vector at the equilibrium has none
    const atTopRight = list.find((a) => a.x === t.px(1) && a.y === t.py(1));
    assert.ok(atTopRight);
  });

  test("points the way the vector does, with ψ's pixels running downwards", () => {
    const right = arrows(frame, t).find((a) => a.x === t.px(1) && a.y === t.py(0)); // (dθ, dψ) = (0, 1): up
    assert.ok(Math.abs(right.dx) < 1e-9 && right.dy < 0);
    const top = arrows(frame, t).find((a) => a.x === t.px(0) && a.y === t.py(1)); // (−1, 0): left
    assert.ok(top.dx < 0 && Math.abs(top.dy) < 1e-9);
  });

  test("the longest arrow spans the fill of the grid spacing; a 32× weaker one is shorter but still visible", () => {
    const list = arrows(frame, t, 0.8);
    const length = (a) => Math.hypot(a.dx, a.dy);
    const longest = Math.max(...list.map(length));
    assert.ok(Math.abs(longest - 80) < 1e-9, String(longest));
    const weak = list.find((a) => a.x === t.px(0) && a.y === t.py(1)); // norm 1 against the longest √32
    assert.ok(length(weak) < longest && length(weak) > longest / 4, String(length(weak)));
  });

  test("a frame without vectors, or only zero ones, draws none", () => {
    assert.deepEqual(arrows({ theta: [0, 1], psi: [0, 1], vectors: [[[0, 0], [0, 0]], [[0, 0], [0, 0]]] }, t), []);
    assert.deepEqual(arrows({}, t), []);
  });
});

describe("trajectory and thin", () => {
  test("pairs θ and ψ per step and skips steps where either is missing", () => {
    assert.deepEqual(trajectory([1, null, 0.5, 0.2], [1, 0.9, null, 0.1]), [[1, 1], [0.2, 0.1]]);
    assert.deepEqual(trajectory(undefined, undefined), []);
  });

  test("a short path is drawn whole", () => {
    const points = [[0, 0], [1, 1], [2, 2]];
    assert.equal(thin(points, 10), points);
  });

  test("a long path keeps at most max points, its first and its newest", () => {
    const points = Array.from({ length: 100_001 }, (_, i) => [Math.cos(i / 5), Math.sin(i / 5)]);
    const out = thin(points, 3000);
    assert.ok(out.length <= 3000, String(out.length));
    assert.ok(out.length > 2000, String(out.length));
    assert.equal(out[0], points[0]);
    assert.equal(out[out.length - 1], points[points.length - 1]);
  });
});

describe("ticks", () => {
  test("round values across the square, 0 among them", () => {
    assert.deepEqual(ticks(2), [-2, -1.5, -1, -0.5, 0, 0.5, 1, 1.5, 2]);
    const wide = ticks(3.5);
    assert.ok(wide.includes(0) && wide.every((v) => Math.abs(v) <= 3.5));
    assert.ok(wide.length >= 5 && wide.length <= 11, String(wide));
  });
});
