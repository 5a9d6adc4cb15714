// schema.js: the page's reading of pydantic's JSON schema and its client-side validation, which decides what the
// form lets through before anything is sent.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { controlName, datasetVariants, fields, getPath, limits, parse, setPath, show } from "../src/schema.js";
import { SCHEMA } from "./fixtures.js";

const field = (path) => fields(SCHEMA).find((f) => f.path === path);

describe("fields", () => {
  test("nested objects behind $ref become dotted leaf paths, in schema order, without the dataset union", () => {
    assert.deepEqual(fields(SCHEMA).map((f) => f.path), ["seed", "device", "steps", "train.lr_d", "train.loss",
      "train.betas", "train.clip", "tricks.unroll_steps", "tricks.instance_noise.std",
      "tricks.instance_noise.anneal_steps"]);
  });

  test("a top-level field is in the run section, a nested one in its first path part", () => {
    assert.equal(field("steps").section, "run");
    assert.equal(field("tricks.instance_noise.std").section, "tricks");
    assert.equal(field("tricks.instance_noise.std").key, "std");
  });

  test("anyOf with null is a nullable field that keeps the limits of its non-null branch", () => {
    const clip = field("train.clip");
    assert.equal(clip.nullable, true);
    assert.equal(clip.type, "number");
    assert.equal(clip.exclusiveMinimum, 0);
    assert.equal(clip.exclusiveMaximum, 100);
    assert.equal(field("train.lr_d").nullable, false);
  });

  test("enums, two-item prefixItems arrays and the live flag are recognised", () => {
    assert.equal(field("train.loss").type, "enum");
    assert.deepEqual(field("train.loss").enum, ["minimax", "nonsaturating", "wgan"]);
    assert.equal(field("train.betas").type, "pair");
    assert.equal(field("steps").live, true);
    assert.equal(field("seed").live, false);
  });
});

test("datasetVariants: each kind of the union gets its own fields, without kind, and its description", () => {
  const variants = datasetVariants(SCHEMA);
  assert.deepEqual(Object.keys(variants), ["ring", "upload"]);
  assert.equal(variants.ring.description, "Gaussians on a circle.");
  assert.deepEqual(variants.ring.fields.map((f) => f.path), ["dataset.modes"]);
  assert.deepEqual(variants.upload.fields.map((f) => f.path), ["dataset.id"]);
});

describe("parse", () => {
  test("integers outside their limits, or not whole, are refused with the limit in words", () => {
    assert.deepEqual(parse(field("steps"), "0"), { error: "must be at least 1" });
    assert.deepEqual(parse(field("steps"), "20000000"), { error: "must be at most 10000000" });
    assert.deepEqual(parse(field("steps"), "2.5"), { error: "must be a whole number" });
    assert.deepEqual(parse(field("steps"), "abc"), { error: "must be a number" });
    assert.deepEqual(parse(field("steps"), " 300 "), { value: 300 });
  });

  test("an exclusive bound refuses the bound itself but takes anything just inside", () => {
    assert.deepEqual(parse(field("train.lr_d"), "0"), { error: "must be more than 0" });
    assert.deepEqual(parse(field("train.lr_d"), "1e-6"), { value: 1e-6 });
    assert.deepEqual(parse(field("train.clip"), "100"), { error: "must be less than 100" });
  });

  test("empty text is null for a nullable field and an error for any other", () => {
    assert.deepEqual(parse(field("train.clip"), ""), { value: null });
    assert.deepEqual(parse(field("steps"), "  "), { error: "required" });
  });

  test("a pair needs exactly two numbers", () => {
    assert.deepEqual(parse(field("train.betas"), "0.5, 0.9"), { value: [0.5, 0.9] });
    assert.deepEqual(parse(field("train.betas"), "0.5"), { error: "two numbers: a, b" });
    assert.deepEqual(parse(field("train.betas"), "0.5, x"), { error: "two numbers: a, b" });
  });

  test("an enum takes only its members; a string is held to its length and pattern", () => {
    assert.deepEqual(parse(field("train.loss"), "wgan"), { value: "wgan" });
    assert.deepEqual(parse(field("train.loss"), "hinge"), { error: "one of minimax, nonsaturating, wgan" });
    assert.deepEqual(parse(field("device"), "cuda:1"), { value: "cuda:1" });
    assert.match(parse(field("device"), "tpu").error, /^must match/);
    const id = datasetVariants(SCHEMA).upload.fields[0];
    assert.deepEqual(parse(id, "abc"), { error: "at least 32 characters" });
    assert.deepEqual(parse(id, "a".repeat(33)), { error: "at most 32 characters" });
  });
});

test("limits: the bounds beside a field say which are exclusive", () => {
  assert.equal(limits(field("steps")), "≥ 1, ≤ 10000000");
  assert.equal(limits(field("train.clip")), "> 0, < 100");
  assert.equal(limits(field("train.loss")), "");
});

test("controlName drops the train/tricks/stream section and joins the rest with -", () => {
  assert.equal(controlName("tricks.unroll_steps"), "unroll_steps");
  assert.equal(controlName("tricks.instance_noise.std"), "instance_noise-std");
  assert.equal(controlName("steps"), "steps");
  assert.equal(controlName("model.hidden"), "model-hidden");
});

test("getPath and setPath read and write dotted paths, creating missing parents", () => {
  const config = { train: { lr_d: 0.1 } };
  setPath(config, "tricks.instance_noise.std", 0.3);
  assert.deepEqual(config, { train: { lr_d: 0.1 }, tricks: { instance_noise: { std: 0.3 } } });
  assert.equal(getPath(config, "tricks.instance_noise.std"), 0.3);
  assert.equal(getPath(config, "model.hidden"), undefined);
});

test("show: three significant digits for fractions, whole numbers as they are", () => {
  assert.equal(show(0.000123456), "0.000123");
  assert.equal(show(1234567), "1234567");
  assert.equal(show([0.5, 0.999]), "0.5, 0.999");
});
