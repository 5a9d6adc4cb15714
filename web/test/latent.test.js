// latent.js: the latent-space panel's maths. A wrong reading pairs codes with the wrong labels (colours that lie
// about which mode a cloud is), a view that cuts off the prior or the codes (the AE's lesson is exactly that its
// codes lie far from the prior), or a legend that disagrees with the dots.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { axisNames, labelCentres, labelColour, labelSpot, latentCaption, latentHalf, latentPoints, latentTransform,
  legendEntries, LEGEND_MAX, MARGIN } from "../src/latent.js";

const INFO = { axes: ["z1", "z2"], explained: null, z_dim: 2, encoding: "mean", labels: [0, 1, 1], label_kind: "mode",
  label_count: 8, prior_radii: [1, 2], prior_mass: [0.3935, 0.8647], inside_2sigma: 0.6667 };

describe("latentPoints", () => {
  test("reads a binary frame's flat array and a JSON frame's nested lists alike, labels kept in order", () => {
    const nested = latentPoints({ latent: [[0, 1], [2, 3], [4, 5]], latent_info: INFO });
    const binary = latentPoints({ latent: Float32Array.from([0, 1, 2, 3, 4, 5]), latent_info: INFO });
    assert.deepEqual([...nested.xy], [0, 1, 2, 3, 4, 5]);
    assert.deepEqual([...binary.xy], [...nested.xy]);
    assert.deepEqual(binary.labels, [0, 1, 1]);
    assert.equal(binary.n, 3);
    assert.equal(binary.count, 8); // the mixture's modes, not only those present
  });

  test("a frame without a latent part (a GAN's, a MADE's) gives nothing to draw", () => {
    assert.equal(latentPoints({ samples: [[0, 0]] }), null);
    assert.equal(latentPoints(null), null);
  });

  test("labels that do not match the points in number are dropped rather than misattributed", () => {
    const points = latentPoints({ latent: [[0, 1], [2, 3]], latent_info: INFO });
    assert.equal(points.labels, null);
    assert.equal(points.count, 0);
  });
});

describe("latentHalf", () => {
  test("holds the prior's outer circle when every code is near the origin", () => {
    assert.ok(latentHalf(Float32Array.from([0.1, -0.2, 0.3, 0.4])) >= 2);
  });

  test("holds a code far from the prior, with a margin, rounded up to a half", () => {
    const half = latentHalf(Float32Array.from([0, 0, -7.2, 3]));
    assert.ok(half >= 7.2 * 1.1, String(half));
    assert.equal(half * 2, Math.round(half * 2));
  });

  test("ignores a diverged code's NaN instead of showing an infinite square", () => {
    assert.equal(latentHalf(Float32Array.from([NaN, 0, Infinity, 1])), latentHalf(Float32Array.from([0, 0, 0, 1])));
  });
});

describe("latentTransform", () => {
  test("puts z = 0 in the middle of the plotted square, the square's corners at its corners, y upwards", () => {
    const t = latentTransform(2, 480);
    const span = 480 - MARGIN.left - MARGIN.right;
    assert.equal(t.span, span);
    assert.equal(t.px(-2), MARGIN.left);
    assert.equal(t.px(2), MARGIN.left + span);
    assert.equal(t.py(2), MARGIN.top);
    assert.equal(t.py(-2), MARGIN.top + span);
    assert.equal(t.px(0), MARGIN.left + span / 2);
  });

  test("scales both axes alike, so the prior's circles stay circles", () => {
    const t = latentTransform(3, 480, { left: 40, right: 0, top: 0, bottom: 10 });
    assert.ok(Math.abs((t.px(1) - t.px(0)) - (t.py(0) - t.py(1))) < 1e-9);
    assert.ok(Math.abs(t.scale * 6 - t.span) < 1e-9);
    assert.equal(t.span, 440); // the smaller of the two sides the margin leaves
  });
});

describe("colours and legend", () => {
  test("classes get colours told apart; modes a scale along their order", () => {
    const classes = Array.from({ length: 10 }, (_, i) => labelColour(i, 10, "class"));
    assert.equal(new Set(classes).size, 10);
    assert.notEqual(labelColour(3, 10, "class"), labelColour(3, 10, "mode"));
    assert.equal(legendEntries({ labels: [0], label_kind: "class", label_count: 10 })[4].colour, classes[4]);
  });

  test("each label has its own colour and the legend shows the same colour the dots are drawn in", () => {
    const info = { ...INFO, label_count: 8 };
    const entries = legendEntries(info);
    assert.equal(entries.length, 8);
    assert.equal(new Set(entries.map((e) => e.colour)).size, 8);
    entries.forEach((e, i) => { assert.equal(e.colour, labelColour(i, 8)); assert.equal(e.text, `mode ${i}`); });
  });

  test("classes are named by their number; unlabelled data gets one key", () => {
    assert.equal(legendEntries({ labels: [3], label_kind: "class", label_count: 10 })[3].text, "class 3");
    assert.deepEqual(legendEntries({ labels: null, label_kind: null, label_count: 0 }).map((e) => e.text), ["data point"]);
  });

  test("past the legend's room the labels are keyed by their two ends", () => {
    const entries = legendEntries({ labels: [0], label_kind: "mode", label_count: LEGEND_MAX + 13 });
    assert.deepEqual(entries.map((e) => e.text), ["mode 0", "…", `mode ${LEGEND_MAX + 12}`]);
    assert.equal(entries[1].colour, null);
  });
});

describe("labelCentres", () => {
  test("writes each label at the mean of its own points and skips labels with none", () => {
    const xy = Float32Array.from([0, 0, 2, 2, 4, 0, NaN, 5]);
    const centres = labelCentres(xy, [1, 1, 3, 3], 4);
    assert.deepEqual(centres, [{ label: 1, x: 1, y: 1, n: 2 }, { label: 3, x: 4, y: 0, n: 1 }]);
  });

  test("a label is written beside its cloud, further out from the origin", () => {
    assert.deepEqual(labelSpot(130, 100, 100, 100, 16), [146, 100]);
    assert.deepEqual(labelSpot(100, 60, 100, 100, 10), [100, 50]);
    assert.deepEqual(labelSpot(100, 100, 100, 100, 16), [100, 84]); // a cloud on the origin: above it
  });

  test("unlabelled points have no label to write", () => {
    assert.deepEqual(labelCentres(Float32Array.from([0, 0]), null, 0), []);
  });
});

describe("captions", () => {
  test("a 2D code's axes are z1 and z2; a projected code's name its principal components and their share", () => {
    assert.deepEqual(axisNames(INFO), ["z1", "z2"]);
    assert.deepEqual(axisNames({ axes: ["PC1", "PC2"], explained: [0.312, 0.18] }),
      ["PC1 (31% of the codes' variance)", "PC2 (18% of the codes' variance)"]);
  });

  test("the caption says what the points are and compares the codes inside 2σ with the prior's mass there", () => {
    const text = latentCaption(INFO, 40);
    assert.match(text, /step 40/);
    assert.match(text, /μ of q\(z\|x\)/);
    assert.match(text, /39% of its mass inside the inner circle and 86%/);
    assert.match(text, /67% of the codes/);
    const ae = latentCaption({ ...INFO, encoding: "code", explained: [0.3, 0.2], z_dim: 16 }, 1);
    assert.match(ae, /code z, projected from 16 dimensions/);
  });
});
