// stepping.js: when the page offers single steps, and how it reads and tells the slow-motion pace. A wrong answer
// shows as step buttons a watcher can press, buttons live on a training run, or a pace the server would refuse.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { canStep, PACE_PATH, paceField, paceText, readPace, refusalText, UPDATES, whyNoStep } from "../src/stepping.js";
import { META } from "./fixtures.js";

const meta = { ...META, statuses: { ...META.statuses, actions: { ...META.statuses.actions, step: ["paused"] } } };

// The part of GET /api/schema that slow motion reads: pydantic's shape for a live float field with limits.
const SCHEMA = {
  type: "object",
  properties: { stream: { $ref: "#/$defs/StreamConfig" }, steps: { type: "integer", default: 5000, live: true } },
  $defs: {
    StreamConfig: {
      type: "object",
      properties: {
        max_steps_per_second: { type: "number", default: 0, minimum: 0, maximum: 1000, live: true,
          title: "Max Steps Per Second", description: "Slow motion." },
      },
    },
  },
};

describe("single steps", () => {
  test("are offered only on a paused run, and only to a user who may steer it", () => {
    assert.equal(canStep(meta, "paused", true), true);
    for (const status of meta.statuses.all.filter((s) => s !== "paused")) assert.equal(canStep(meta, status, true), false, status);
    assert.equal(canStep(meta, "paused", false), false);
  });

  test("a server that lists no step action gets no step buttons", () => {
    assert.equal(canStep(META, "paused", true), false);
  });

  test("are one D update, one G update and one full step, each with its own test id and a label", () => {
    assert.deepEqual(UPDATES.map((u) => [u.update, u.testid]), [["d", "step-d"], ["g", "step-g"], ["both", "step-both"]]);
    for (const u of UPDATES) assert.ok(u.label && u.help, u.update);
  });

  test("say why they are off on a running run, and nothing to a watcher or on a finished run", () => {
    assert.match(whyNoStep(meta, "running", true), /Pause/);
    assert.equal(whyNoStep(meta, "paused", true), "");
    assert.equal(whyNoStep(meta, "running", false), "");
    assert.equal(whyNoStep(meta, "completed", true), "");
  });

  test("a refusal reads as the server's reasons", () => {
    assert.equal(refusalText([{ field: "type", reason: "pause it first" }]), "pause it first");
    assert.equal(refusalText([]), null);
    assert.equal(refusalText(undefined), null);
  });
});

describe("slow motion", () => {
  const field = paceField(SCHEMA);

  test("reads its field, limits and all, from the schema", () => {
    assert.equal(field.path, PACE_PATH);
    assert.equal(field.maximum, 1000);
    assert.equal(paceField({ type: "object", properties: {} }), null);
  });

  test("a typed pace is checked against the schema's limits; empty is full speed", () => {
    assert.deepEqual(readPace(field, "2.5"), { value: 2.5 });
    assert.deepEqual(readPace(field, " "), { value: 0 });
    assert.match(readPace(field, "-1").error, /at least 0/);
    assert.match(readPace(field, "5000").error, /at most 1000/);
    assert.match(readPace(field, "fast").error, /number/);
  });

  test("tells the limit and the measured pace", () => {
    assert.equal(paceText(0, null), "full speed");
    assert.equal(paceText(2, 1.96), "at most 2 steps a second · now 2.0 it/s");
    assert.equal(paceText(1, null), "at most 1 step a second");
    assert.equal(paceText(0, 812.4), "full speed · now 812 it/s");
  });
});
