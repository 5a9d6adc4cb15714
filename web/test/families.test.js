// Model families on the page (issue 14): the schema says which families read each setting, so a VAE's controls
// have its β and no GAN trick; a taxonomy lesson's sets and role tags; the compare view's split between charts the
// runs share and each run's own.
import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { familyRole, lessonCards, pairOverrides, togetherSets } from "../src/lessons.js";
import { splitMetrics } from "../src/meta.js";
import { appliesTo, controlGroups, fields, hasDiscriminator } from "../src/schema.js";
import { SCHEMA } from "./fixtures.js";

// The fixture schema as config_schema() marks it: D's settings and every trick the GAN's alone, β the VAE's, lr_g
// every family's but in the two-time-scale fix with lr_d (so that fix, too, is the GAN's).
const schema = structuredClone(SCHEMA);
const train = schema.$defs.TrainConfig.properties;
train.lr_g = { type: "number", default: 0.0002, exclusiveMinimum: 0, maximum: 1, title: "Lr G", live: true, fix: "two_time_scale" };
train.lr_d.fix = "two_time_scale";
train.d_steps = { type: "integer", default: 1, minimum: 1, maximum: 20, title: "D Steps", live: true };
train.kl_weight = { type: "number", default: 1, minimum: 0, maximum: 100, title: "Kl Weight", live: true, families: ["vae"] };
for (const name of ["lr_d", "loss", "d_steps"]) train[name].families = ["gan"];
schema.$defs.TricksConfig.properties.unroll_steps.fix = "unroll";
schema.$defs.TricksConfig.properties.unroll_steps.families = ["gan"];
for (const f of Object.values(schema.$defs.InstanceNoise.properties)) Object.assign(f, { fix: "instance_noise", families: ["gan"] });
schema.fixes = {
  unroll: { title: "Unrolled GAN", does: "G looks ahead.", paper: "Metz et al. 2017", families: ["gan"] },
  instance_noise: { title: "Instance noise", does: "Noise on D's inputs.", paper: "Sønderby et al. 2017", families: ["gan"] },
  two_time_scale: { title: "Two time-scales", does: "Own rates.", paper: "Heusel et al. 2017", families: ["gan"] },
};
const live = fields(schema).filter((f) => f.live);
const paths = (groups) => groups.flatMap((g) => g.fields.map((f) => f.path));

describe("appliesTo", () => {
  test("a field the schema gives families to applies to those only; one without applies to every family", () => {
    const field = (path) => fields(schema).find((f) => f.path === path);
    assert.deepEqual(field("train.kl_weight").families, ["vae"]);
    assert.ok(appliesTo(field("train.kl_weight"), "vae"));
    assert.ok(!appliesTo(field("train.kl_weight"), "gan"));
    assert.ok(!appliesTo(field("tricks.unroll_steps"), "made"));
    assert.ok(appliesTo(field("steps"), "made") && appliesTo(field("train.lr_g"), "ae"));
    assert.ok(appliesTo(field("train.kl_weight"), undefined)); // no family known: everything
  });

  test("a family has a discriminator where D's own settings apply to it", () => {
    assert.ok(hasDiscriminator(schema, "gan"));
    for (const family of ["ae", "vae", "made"]) assert.ok(!hasDiscriminator(schema, family));
    assert.ok(hasDiscriminator(SCHEMA, "vae"), "a schema without d_steps says nothing against it");
  });
});

describe("controlGroups for a family", () => {
  test("a VAE gets its β and lr_g under Training, and no fix, no D setting, no trick", () => {
    const groups = controlGroups(schema, live, "vae");
    assert.deepEqual(groups.map((g) => g.key), ["train", "run"]);
    assert.deepEqual(paths(groups).sort(), ["steps", "train.betas", "train.clip", "train.kl_weight", "train.lr_g"]);
    assert.ok(!groups[0].does.includes("both networks"));
  });

  test("a GAN keeps every fix with lr_g beside lr_d, and no β", () => {
    const groups = controlGroups(schema, live, "gan");
    assert.deepEqual(groups.find((g) => g.key === "two_time_scale").fields.map((f) => f.path).sort(), ["train.lr_d", "train.lr_g"]);
    assert.ok(groups.some((g) => g.key === "unroll") && groups.some((g) => g.key === "instance_noise"));
    assert.ok(!paths(groups).includes("train.kl_weight"));
  });

  test("without a family every field is grouped as before", () => {
    assert.deepEqual(paths(controlGroups(schema, live)).sort(), live.map((f) => f.path).sort());
  });
});

const preset = (name, kind, family, seed = 0) => ({ name, config: { seed, dataset: { kind }, model: { family } } });
const PRESETS = [preset("ring-made", "ring", "made"), preset("ring-vae", "ring", "vae", 3), preset("ring-ae", "ring", "ae"),
  preset("ring-unrolled", "ring", "gan"), preset("digits-made", "digits", "made"), preset("digits-dcgan", "digits", "gan")];
const TAXONOMY = { name: "density-families", kind: "taxonomy", title: "t", chapter: "", problem: [], fix: [], sweeps: [],
  watch: [], together: [["ring-made", "ring-vae", "ring-ae", "ring-unrolled"], ["digits-made", "digits-vae", "digits-dcgan"],
    ["digits-ae", "nothing"]] };

describe("togetherSets", () => {
  test("each set is named by its dataset, keeps its order, and loses presets the server lacks", () => {
    assert.deepEqual(togetherSets(TAXONOMY, PRESETS), [
      { name: "ring", presets: ["ring-made", "ring-vae", "ring-ae", "ring-unrolled"] },
      { name: "digits", presets: ["digits-made", "digits-dcgan"] }]); // a set of fewer than two is no comparison
  });

  test("a taxonomy lesson's card has its sets and no pair; other lessons have none", () => {
    const [card] = lessonCards([TAXONOMY], PRESETS);
    assert.deepEqual(card.pairs, []);
    assert.deepEqual(card.solo, []);
    assert.equal(card.sets.length, 2);
    const pair = { ...TAXONOMY, name: "p", kind: "problem", problem: ["ring-ae"], fix: ["ring-unrolled"], together: undefined };
    assert.deepEqual(lessonCards([pair], PRESETS)[0].sets, []);
  });

  test("every preset of a set starts on the first one's seed", () => {
    const [first, ...rest] = togetherSets(TAXONOMY, PRESETS)[0].presets.map((n) => PRESETS.find((p) => p.name === n));
    assert.deepEqual(rest.map((p) => pairOverrides(first, p)), [{ seed: 0 }, {}, {}]);
  });
});

test("familyRole: each family's kind of density, as the chapter's taxonomy has it", () => {
  assert.deepEqual(["made", "vae", "ae", "gan"].map((f) => familyRole(f).text),
    ["explicit: MADE", "approximate: VAE", "approximate: AE", "implicit: GAN"]);
  assert.equal(familyRole("made").kind, "explicit");
  assert.equal(familyRole("flow").text, "FLOW"); // a family the page does not place is named, not guessed at
});

describe("splitMetrics", () => {
  const has = (...names) => (n) => names.includes(n);
  const NAMES = ["d_loss", "modes_covered", "recon", "kl", "nll", "ms_per_sample"];

  test("runs of four families share a chart only where two or more report the metric", () => {
    const { shared, own } = splitMetrics(NAMES, [has("nll", "modes_covered", "ms_per_sample"),
      has("recon", "kl", "modes_covered", "ms_per_sample"), has("recon", "modes_covered", "ms_per_sample"),
      has("d_loss", "modes_covered", "ms_per_sample")]);
    assert.deepEqual([...shared], ["modes_covered", "recon", "ms_per_sample"]);
    assert.deepEqual(own.map((s) => [...s]), [["nll"], ["kl"], [], ["d_loss"]]);
  });

  test("two runs of one family share every chart and keep nothing of their own", () => {
    const { shared, own } = splitMetrics(NAMES, [has("d_loss", "modes_covered"), has("d_loss", "modes_covered")]);
    assert.deepEqual([...shared], ["d_loss", "modes_covered"]);
    assert.deepEqual(own.map((s) => s.size), [0, 0]);
  });
});
