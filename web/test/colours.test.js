// colours.js: the page's colour table. Each claim is checked the way a reader with colour blindness would see it:
// colours are simulated for protanopia, deuteranopia and tritanopia (Machado, Oliveira & Fernandes 2009, severity
// 1) and compared by their CIELAB distance (ΔE*ab; about 2 is just noticeable, 20 or more is plainly different).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { cividisRgb, divergingRgb, heatRgb, POINTS, QUALITY, SERIES, viridisRgb } from "../src/colours.js";

const SIMULATIONS = {
  normal: [[1, 0, 0], [0, 1, 0], [0, 0, 1]],
  protanopia: [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
  deuteranopia: [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.01182, 0.04294, 0.968881]],
  tritanopia: [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.3039]],
};

const rgbOf = (c) => (typeof c === "string" ? [1, 3, 5].map((i) => parseInt(c.slice(i, i + 2), 16)) : c);
const linear = (c) => { const s = c / 255; return s <= 0.04045 ? s / 12.92 : ((s + 0.055) / 1.055) ** 2.4; };

/** CIELAB (D65) of a colour as seen with `vision`. */
function lab(colour, vision = "normal") {
  const lin = rgbOf(colour).map(linear);
  const [r, g, b] = SIMULATIONS[vision].map((row) => Math.max(0, Math.min(1, row[0] * lin[0] + row[1] * lin[1] + row[2] * lin[2])));
  const xyz = [(0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047, 0.2126 * r + 0.7152 * g + 0.0722 * b,
    (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883];
  const [fx, fy, fz] = xyz.map((t) => (t > 0.008856 ? Math.cbrt(t) : 7.787 * t + 16 / 116));
  return [116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)];
}
const deltaE = (a, b, vision) => Math.hypot(...lab(a, vision).map((x, i) => x - lab(b, vision)[i]));
const VISIONS = Object.keys(SIMULATIONS);
const ramp = (scale) => Array.from({ length: 21 }, (_, i) => scale(i / 20));

describe("the simulation itself", () => {
  test("tells the red and green we replaced apart for normal vision but not for deuteranopia", () => {
    const [green, red] = ["#166534", "#dc2626"]; // the old covered / missed marks
    assert.ok(deltaE(green, red, "normal") > 60);
    assert.ok(deltaE(green, red, "deuteranopia") < deltaE(QUALITY.good, QUALITY.bad, "deuteranopia") / 2);
  });
});

describe("scales", () => {
  test("the D heatmap is white where D is undecided and its lightness falls evenly towards either end", () => {
    assert.ok(lab(divergingRgb(0))[0] > 96 && Math.hypot(...lab(divergingRgb(0)).slice(1)) < 2);
    for (const vision of VISIONS) {
      for (const sign of [-1, 1]) {
        const L = Array.from({ length: 11 }, (_, i) => lab(divergingRgb((sign * i) / 10), vision)[0]);
        const steps = L.slice(1).map((l, i) => l - L[i]);
        assert.ok(steps.every((d) => d < 0), `${vision} ${sign}: lightness rises somewhere: ${L.map((l) => l.toFixed(1))}`);
        assert.ok(Math.min(...steps) > 2 * Math.max(...steps), `${vision} ${sign}: uneven ${steps.map((d) => d.toFixed(2))}`);
      }
    }
  });

  test("the heatmap's ends, 'fake' and 'real', stay far apart under every colour blindness", () => {
    for (const vision of VISIONS) assert.ok(deltaE(heatRgb(0), heatRgb(1), vision) > 30, vision);
  });

  test("D's readout maps to the scale through a square root: a small leaning shows, 0.5 is white", () => {
    assert.deepEqual(heatRgb(0.5), divergingRgb(0));
    assert.deepEqual(heatRgb(0.55), divergingRgb(Math.sqrt(0.1)));
    assert.deepEqual(heatRgb(0), divergingRgb(-1));
  });

  test("cividis and viridis keep their published ends and clamp outside [0, 1]", () => {
    assert.deepEqual(cividisRgb(0), [0, 34, 78]);
    assert.deepEqual(cividisRgb(1), [254, 232, 56]);
    assert.deepEqual(cividisRgb(2), cividisRgb(1));
    assert.deepEqual(viridisRgb(-1), [68, 1, 84]);
  });
});

describe("pairs that must be told apart", () => {
  test("good and bad (a mode covered or missed) differ under every colour blindness", () => {
    for (const vision of VISIONS) assert.ok(deltaE(QUALITY.good, QUALITY.bad, vision) > 25, vision);
  });

  test("real and generated points differ from each other and from the heatmap beneath them", () => {
    for (const vision of VISIONS) {
      assert.ok(deltaE(POINTS.real, POINTS.fake, vision) > 20, `${vision}: real vs fake`);
      for (const point of Object.values(POINTS)) {
        for (const v of [0, 0.5, 1]) assert.ok(deltaE(point, heatRgb(v), vision) > 25, `${vision}: ${point} on D=${v}`);
      }
    }
  });

  test("the quality marks stand out from the heatmap wherever they sit", () => {
    for (const vision of VISIONS) {
      for (const mark of Object.values(QUALITY)) {
        for (const v of [0, 0.5, 1]) assert.ok(deltaE(mark, heatRgb(v), vision) > 25, `${vision}: ${mark} on D=${v}`);
      }
    }
  });

  test("a chart's first series (a problem and its fix when compared) differ under every colour blindness", () => {
    for (const vision of VISIONS) {
      for (let i = 0; i < 3; i++) {
        for (let j = i + 1; j < 3; j++) assert.ok(deltaE(SERIES[i], SERIES[j], vision) > 15, `${vision}: ${SERIES[i]} vs ${SERIES[j]}`);
      }
    }
  });
});
