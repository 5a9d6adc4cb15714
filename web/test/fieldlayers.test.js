// The field view of a run by its model family (fieldlayers.js): D's heatmap and G's pull only where there is a D,
// the manifold only where there is a latent code, named for what maps it (G, or a decoder).
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { fieldLayers, fieldModel, hasLatent, MANIFOLD_TEXT } from "../src/fieldlayers.js";

// The two settings that tell, marked as config_schema() marks them: D's steps the GAN's alone, z_dim every family's
// with a latent code (not MADE's).
const schema = {
  type: "object",
  properties: { model: { $ref: "#/$defs/ModelConfig" }, train: { $ref: "#/$defs/TrainConfig" } },
  $defs: {
    ModelConfig: { type: "object", properties: {
      family: { type: "string", enum: ["gan", "ae", "vae", "made"], default: "gan", live: false },
      z_dim: { type: "integer", default: 16, minimum: 1, maximum: 512, live: false, families: ["gan", "ae", "vae"] },
    } },
    TrainConfig: { type: "object", properties: {
      d_steps: { type: "integer", default: 1, minimum: 1, maximum: 20, live: true, families: ["gan"] },
    } },
  },
};

const GAN_FRAME = { d: [0.5], directions: [1, 0], manifold: [0, 0], samples: [0, 0] };
const VAE_FRAME = { manifold: [0, 0], samples: [0, 0] }; // what models/field.py sends for a family without D
const MADE_FRAME = { samples: [0, 0] };

describe("fieldModel", () => {
  test("a GAN has D and a latent; an AE or VAE a latent and no D; a MADE neither", () => {
    assert.deepEqual(fieldModel(schema, "gan"), { discriminator: true, latent: true });
    for (const family of ["ae", "vae"]) assert.deepEqual(fieldModel(schema, family), { discriminator: false, latent: true });
    assert.deepEqual(fieldModel(schema, "made"), { discriminator: false, latent: false });
  });

  test("a schema that marks no z_dim says nothing against a latent", () => {
    assert.ok(hasLatent({ type: "object", properties: {} }, "made"));
  });
});

describe("fieldLayers", () => {
  test("a GAN's frame draws D's heatmap, G's pull and G's manifold", () => {
    const layers = fieldLayers(GAN_FRAME, fieldModel(schema, "gan"));
    assert.ok(layers.heat && layers.pull);
    assert.equal(layers.manifold, MANIFOLD_TEXT.generator);
    assert.match(layers.aria, /D's heatmap/);
  });

  test("a VAE's frame has no heatmap and no pull, and its manifold is the decoder's image of the latent grid", () => {
    const layers = fieldLayers(VAE_FRAME, fieldModel(schema, "vae"));
    assert.ok(!layers.heat && !layers.pull);
    assert.equal(layers.manifold?.key, "decoder's image of the latent grid");
    assert.doesNotMatch(layers.aria, /D's|pull/);
  });

  test("a MADE's frame shows only the data and the samples", () => {
    const layers = fieldLayers(MADE_FRAME, fieldModel(schema, "made"));
    assert.deepEqual([layers.heat, layers.pull, layers.manifold], [false, false, null]);
    assert.equal(layers.aria, "Field view: real data and generated samples");
  });

  test("a family without D draws none of D's layers even from a frame that carries them (an older server's zeros)", () => {
    const layers = fieldLayers(GAN_FRAME, fieldModel(schema, "vae"));
    assert.ok(!layers.heat && !layers.pull);
    assert.equal(layers.manifold, MANIFOLD_TEXT.decoder);
    assert.equal(fieldLayers(GAN_FRAME, fieldModel(schema, "made")).manifold, null);
  });

  test("without the run's family the frame decides: no D grid means no D, and its manifold is a decoder's", () => {
    const gan = fieldLayers(GAN_FRAME);
    assert.ok(gan.heat && gan.pull && gan.manifold === MANIFOLD_TEXT.generator);
    const vae = fieldLayers(VAE_FRAME);
    assert.ok(!vae.heat && !vae.pull && vae.manifold === MANIFOLD_TEXT.decoder);
    assert.equal(fieldLayers(MADE_FRAME).manifold, null);
  });

  test("a GAN frame without its manifold offers none", () => {
    assert.equal(fieldLayers({ d: [0.5], directions: [1, 0] }, fieldModel(schema, "gan")).manifold, null);
  });
});
