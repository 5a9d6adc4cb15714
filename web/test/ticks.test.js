import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { tickLabels } from "../src/ticks.js";

describe("tickLabels", () => {
  it("writes small values with the decimals they need instead of rounding them all to 0", () => {
    assert.deepEqual(tickLabels([0.0001, 0.00015, 0.0002]), ["0.00010", "0.00015", "0.00020"]);
    assert.deepEqual(tickLabels([0, 0.0002, 0.0004]), ["0.0000", "0.0002", "0.0004"]);
  });

  it("keeps whole numbers whole, with thousands separated", () => {
    assert.deepEqual(tickLabels([0, 500, 1000, 1500]), ["0", "500", "1,000", "1,500"]);
  });

  it("is not fooled by floating-point noise in the splits", () => {
    assert.deepEqual(tickLabels([0.1, 0.2, 0.30000000000000004]), ["0.1", "0.2", "0.3"]);
    assert.deepEqual(tickLabels([-0.5, 0, 0.5]), ["-0.5", "0.0", "0.5"]);
  });

  it("gives a label for a single tick and none for a missing one", () => {
    assert.deepEqual(tickLabels([0.00021]), ["0.00021"]);
    assert.deepEqual(tickLabels([1, null, 3].map((v) => (v === null ? NaN : v))), ["1", "", "3"]);
  });
});
