// schema.js controlGroups: the run view's live controls come grouped by the fix they are, with the schema's own
// line and paper for each fix, so the page keeps no list of tricks or citations.
import assert from "node:assert/strict";
import { test } from "node:test";
import { controlGroups, fields } from "../src/schema.js";
import { SCHEMA } from "./fixtures.js";

const schema = structuredClone(SCHEMA);
schema.fixes = {
  unroll: { title: "Unrolled GAN", does: "G looks ahead.", paper: "Metz et al. 2017" },
  pack: { title: "PacGAN", does: "D judges m at once.", paper: "Lin et al. 2018" },
  instance_noise: { title: "Instance noise", does: "Noise on D's inputs.", paper: "Sønderby et al. 2017" },
};
const defs = schema.$defs;
for (const def of Object.values(defs)) {
  for (const [name, prop] of Object.entries(def.properties || {})) {
    if (name === "unroll_steps") prop.fix = "unroll";
    if (def.properties.anneal_steps && (name === "std" || name === "anneal_steps")) prop.fix = "instance_noise";
  }
}
const live = fields(schema).filter((f) => f.live);

test("fields are grouped under the fix they name, in the schema's order of fixes, with its line and paper", () => {
  const groups = controlGroups(schema, live);
  const unroll = groups.find((g) => g.key === "unroll");
  assert.deepEqual(unroll.fields.map((f) => f.path), ["tricks.unroll_steps"]);
  assert.equal(unroll.paper, "Metz et al. 2017");
  assert.equal(unroll.does, "G looks ahead.");
  assert.ok(groups.findIndex((g) => g.key === "unroll") < groups.findIndex((g) => g.key === "instance_noise"));
});

test("a fix with no live field is left out, training settings follow the fixes, the run's own come last folded", () => {
  const groups = controlGroups(schema, live);
  assert.equal(groups.find((g) => g.key === "pack"), undefined);
  const keys = groups.map((g) => g.key);
  assert.ok(keys.indexOf("train") > keys.indexOf("instance_noise"));
  assert.equal(keys[keys.length - 1], "run");
  assert.equal(groups[groups.length - 1].folded, true);
  assert.ok(groups.find((g) => g.key === "run").fields.some((f) => f.path === "steps"));
});

test("a schema without fixes (an older server) still gets every live field, by section", () => {
  const groups = controlGroups(SCHEMA, fields(SCHEMA).filter((f) => f.live));
  assert.equal(groups.flatMap((g) => g.fields).length, fields(SCHEMA).filter((f) => f.live).length);
  assert.ok(groups.some((g) => g.key === "tricks"));
});
