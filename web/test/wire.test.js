// wire.js: the stream's binary frames and static parts as the page reads them. A wrong offset or shape draws the
// heatmap from the samples' bytes, a lost static part draws a field without its real data, and a static event
// handed on as an event would reach the reducer as noise.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { arrows, transform } from "../src/phase.js";
import { createReader, decodeFrame, flat, pngUrl, releasePng, staticParts } from "../src/wire.js";

/** A binary frame laid out as server/wire.py documents it, built here independently of the server. */
function encodeFrame(fields, arrays) {
  const descriptors = [];
  const pad = (n) => Math.ceil(n / 8) * 8;
  let header = JSON.stringify({ ...fields, arrays: descriptors });
  const bound = pad(4 + new TextEncoder().encode(header).length + 100 * Object.keys(arrays).length);
  let offset = bound;
  for (const [name, { dtype, shape, values }] of Object.entries(arrays)) {
    descriptors.push({ name, dtype, shape, offset });
    offset = pad(offset + values.length * (dtype === "f4" ? 4 : 1));
  }
  header = new TextEncoder().encode(JSON.stringify({ ...fields, arrays: descriptors }));
  const buffer = new ArrayBuffer(offset);
  new DataView(buffer).setUint32(0, header.length, true);
  new Uint8Array(buffer, 4, header.length).set(header);
  for (const d of descriptors) {
    const { values } = arrays[d.name];
    if (d.dtype === "f4") new Float32Array(buffer, d.offset, values.length).set(values);
    else new Uint8Array(buffer, d.offset, values.length).set(values);
  }
  return buffer;
}

const D = [0.5, 0.25, 0.75, 1];
const SAMPLES = [0.125, -1.5, 2, 0.5, -0.25, 1];
const fieldFrame = (step) => encodeFrame({ type: "field", step, resolution: 2, covered: [true, false] },
  { d: { dtype: "f4", shape: [2, 2], values: D }, samples: { dtype: "f4", shape: [3, 2], values: SAMPLES } });
const STATIC = { bounds: [-2, 2, -1, 1], real: [[1, 0], [0, 1]], centers: [[1, 0], [-1, 0]] };

describe("decodeFrame", () => {
  test("gives the header's fields and each array as a view of the message's own buffer, with its shape", () => {
    const buffer = fieldFrame(7);
    const e = decodeFrame(buffer);
    assert.equal(e.type, "field");
    assert.equal(e.step, 7);
    assert.deepEqual(e.covered, [true, false]);
    assert.ok(e.d instanceof Float32Array && e.d.buffer === buffer, "a view, not a copy");
    assert.deepEqual([...e.d], D);
    assert.deepEqual([...e.samples], SAMPLES);
    assert.deepEqual(e.shapes, { d: [2, 2], samples: [3, 2] });
    assert.equal(e.arrays, undefined);
  });

  test("reads an image frame's PNG as bytes", () => {
    const png = [0x89, 0x50, 0x4e, 0x47, 13, 10, 26, 10, 1, 2, 3];
    const e = decodeFrame(encodeFrame({ type: "samples", step: 1 }, { png: { dtype: "u1", shape: [11], values: png } }));
    assert.ok(e.png instanceof Uint8Array);
    assert.deepEqual([...e.png], png);
  });

  test("refuses a dtype it does not know rather than drawing garbage", () => {
    const buffer = encodeFrame({ type: "field" }, { d: { dtype: "f4", shape: [1], values: [1] } });
    const text = new TextDecoder().decode(new Uint8Array(buffer, 4, new DataView(buffer).getUint32(0, true)));
    const bytes = new TextEncoder().encode(text.replace('"f4"', '"f8"'));
    new Uint8Array(buffer, 4, bytes.length).set(bytes);
    assert.throws(() => decodeFrame(buffer), /unknown dtype f8/);
  });
});

describe("createReader", () => {
  test("puts the snapshot's static parts into every 2D field frame that follows, packed like the frame's arrays", () => {
    const reader = createReader();
    const snapshot = reader.read(JSON.stringify({ type: "snapshot", run: {}, metrics: {}, static: STATIC, frames: [] }));
    assert.equal(snapshot.type, "snapshot");
    for (const step of [1, 2]) {
      const e = reader.read(fieldFrame(step));
      assert.deepEqual(e.bounds, STATIC.bounds);
      assert.deepEqual([...e.real], [1, 0, 0, 1]);
      assert.deepEqual([...e.centers], [1, 0, -1, 0]);
      assert.deepEqual(e.shapes, { d: [2, 2], samples: [3, 2], real: [2, 2], centers: [2, 2] });
    }
  });

  test("keeps a static event instead of handing it on, and uses it from the next frame", () => {
    const reader = createReader();
    reader.read(JSON.stringify({ type: "snapshot", static: null }));
    assert.equal(reader.read(fieldFrame(1)).real, undefined); // nothing known yet: nothing invented
    assert.equal(reader.read(JSON.stringify({ type: "static", ...STATIC, real: [[3, 4]] })), null);
    assert.deepEqual([...reader.read(fieldFrame(2)).real], [3, 4]);
  });

  test("leaves a Dirac-GAN's field frame and small events as they came", () => {
    const reader = createReader();
    reader.read(JSON.stringify({ type: "snapshot", static: STATIC }));
    const dirac = reader.read(encodeFrame({ type: "field", kind: "dirac", bounds: [-3, 3, -3, 3] },
      { vectors: { dtype: "f4", shape: [1, 1, 2], values: [1, 0] } }));
    assert.deepEqual(dirac.bounds, [-3, 3, -3, 3]);
    assert.equal(dirac.real, undefined);
    assert.deepEqual(reader.read(JSON.stringify({ type: "metrics", rows: [{ step: 1 }] })),
      { type: "metrics", rows: [{ step: 1 }] });
  });
});

describe("flat and staticParts", () => {
  test("flatten JSON rows, pass typed arrays through untouched and keep null", () => {
    assert.deepEqual([...flat([[1, 2], [3, 4]])], [1, 2, 3, 4]);
    const typed = new Float32Array([1, 2]);
    assert.equal(flat(typed), typed);
    assert.equal(flat(null), null);
    assert.deepEqual(staticParts({ bounds: [0, 1, 0, 1], real: [[1, 2]], centers: null }),
      { parts: { bounds: [0, 1, 0, 1], real: new Float32Array([1, 2]), centers: null }, shapes: { real: [1, 2] } });
  });
});

describe("a Dirac-GAN frame read from binary", () => {
  test("draws the same arrows as the nested lists it replaces", () => {
    const nested = [[[1, 0], [0, 2]], [[-1, -1], [0, 0]]];
    const frame = { theta: [-1, 1], psi: [-1, 1] };
    const t = transform(2, 200, 10);
    const binary = decodeFrame(encodeFrame({ type: "field", kind: "dirac" },
      { vectors: { dtype: "f4", shape: [2, 2, 2], values: nested.flat(2) } }));
    assert.deepEqual(arrows({ ...frame, vectors: binary.vectors }, t), arrows({ ...frame, vectors: nested }, t));
    assert.equal(arrows({ ...frame, vectors: binary.vectors }, t).length, 3); // the zero vector has none
  });
});

describe("pngUrl", () => {
  test("makes one object URL per frame and gives it back", () => {
    const frame = { png: new Uint8Array([0x89, 0x50]) };
    const url = pngUrl(frame);
    assert.match(url, /^blob:/);
    assert.equal(pngUrl(frame), url);
    releasePng(frame);
    assert.equal(frame.pngUrl, null);
    assert.notEqual(pngUrl(frame), url);
    releasePng(frame);
  });
});
