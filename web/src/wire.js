// The run stream's wire format, read (written by server/wire.py, whose docstring is the reference): small events
// are JSON text; each frame (`field`, `samples`) is one binary message,
//   uint32 LE header length H · H bytes of JSON header (the event's other fields, and `arrays`: name, dtype,
//   shape, offset) · each array's bytes at its offset (a multiple of 8): "f4" float32 LE row-major, "u1" bytes,
// read here as typed arrays over the message's own buffer: nothing is parsed but the small header. What a 2D
// run's field frames share (bounds, real points, mode centres) comes once, in the snapshot's `static` or a
// `static` event, and the reader puts it back into every field frame. Pure: no DOM, no network.

const utf8 = new TextDecoder();

/** A binary frame's event: the header's fields, and each array flat in row-major order (Float32Array for "f4",
 * Uint8Array for "u1", both views of `buffer`, not copies) with its shape in `shapes[name]`.
 * @param {ArrayBuffer} buffer */
export function decodeFrame(buffer) {
  const length = new DataView(buffer).getUint32(0, true);
  const event = JSON.parse(utf8.decode(new Uint8Array(buffer, 4, length)));
  const shapes = {};
  for (const { name, dtype, shape, offset } of event.arrays) {
    const count = shape.reduce((a, b) => a * b, 1);
    if (dtype === "f4") event[name] = new Float32Array(buffer, offset, count); // little-endian, as every browser's
    else if (dtype === "u1") event[name] = new Uint8Array(buffer, offset, count);
    else throw new Error(`unknown dtype ${dtype} of ${name}`);
    shapes[name] = shape;
  }
  delete event.arrays;
  event.shapes = shapes;
  return event;
}

/** Numbers in row-major order as a Float32Array: a typed array as it is, nested lists (JSON) flattened; null
 * stays null. Lets a view take a frame from the stream or from JSON alike. */
export function flat(values) {
  if (values === null || values === undefined) return null;
  return ArrayBuffer.isView(values) ? values : Float32Array.from(values.flat(Infinity));
}

/** The static parts of 2D field frames (from a snapshot's `static` or a `static` event), packed as a frame's. */
export function staticParts(e) {
  const parts = { bounds: e.bounds ?? null, real: flat(e.real), centers: flat(e.centers) };
  const shapes = {};
  if (parts.real) shapes.real = [parts.real.length / 2, 2];
  if (parts.centers) shapes.centers = [parts.centers.length / 2, 2];
  return { parts, shapes };
}

/** One connection's reader: `read(data)` gives a message's event (a field frame completed with the static parts
 * last received), or null for a `static` event, which it keeps. A new connection needs a new reader. */
export function createReader() {
  let kept = null;
  return {
    /** @param {string | ArrayBuffer} data */
    read(data) {
      const e = typeof data === "string" ? JSON.parse(data) : decodeFrame(data);
      if (e.type === "snapshot") kept = e.static ? staticParts(e.static) : null;
      else if (e.type === "static") { kept = staticParts(e); return null; }
      else if (e.type === "field" && e.kind !== "dirac" && kept) {
        Object.assign(e, kept.parts);
        e.shapes = { ...e.shapes, ...kept.shapes };
      }
      return e;
    },
  };
}

/** An object URL showing an image frame's PNG, made once per frame; give it back with `releasePng` once the frame
 * is no longer shown. */
export function pngUrl(frame) {
  if (!frame.pngUrl) frame.pngUrl = URL.createObjectURL(new Blob([frame.png], { type: "image/png" }));
  return frame.pngUrl;
}

export function releasePng(frame) {
  if (frame && frame.pngUrl) { URL.revokeObjectURL(frame.pngUrl); frame.pngUrl = null; }
}
