// Reads GET /api/schema (pydantic's JSON schema of RunConfig) into flat field descriptors, and validates a value
// against a descriptor's limits. Every form and control on the page is generated from these, so a new config
// field shows up without a page change.

/**
 * @typedef {{
 *   path: string, key: string, title: string, description: string, live: boolean, default: unknown,
 *   type: "integer"|"number"|"boolean"|"string"|"enum"|"pair"|"list", nullable: boolean, enum?: string[],
 *   minimum?: number, maximum?: number, exclusiveMinimum?: number, exclusiveMaximum?: number,
 *   minLength?: number, maxLength?: number, pattern?: string, section: string, fix?: string, families?: string[]
 * }} Field
 * @typedef {{key: string, title: string, does: string, paper?: string, folded?: boolean, fields: Field[]}} ControlGroup
 */

/** Resolve a {$ref: "#/$defs/X"} against the root schema. */
export function deref(root, node) {
  if (node && node.$ref) return root.$defs[node.$ref.split("/").pop()];
  return node;
}

/** One descriptor from a leaf property schema. */
function leaf(root, prop, path) {
  let node = prop;
  let nullable = false;
  if (prop.anyOf) {
    const kinds = prop.anyOf.filter((a) => a.type !== "null");
    nullable = kinds.length < prop.anyOf.length;
    node = { ...kinds[0], ...prop, anyOf: undefined };
  }
  let type = node.type;
  if (node.enum) type = "enum";
  else if (type === "array" && node.prefixItems && node.prefixItems.length === 2) type = "pair";
  else if (type === "array") type = "list";
  const parts = path.split(".");
  return {
    path, key: parts[parts.length - 1], section: parts.length > 1 ? parts[0] : "run",
    title: node.title || parts[parts.length - 1], description: node.description || "", live: !!node.live,
    default: node.default, type, nullable, enum: node.enum,
    minimum: node.minimum, maximum: node.maximum, exclusiveMinimum: node.exclusiveMinimum,
    exclusiveMaximum: node.exclusiveMaximum, minLength: node.minLength, maxLength: node.maxLength,
    pattern: node.pattern, fix: node.fix, families: node.families,
  };
}

/** Every leaf field of an object schema, depth first, as dotted paths. The dataset union is left out here
 * (see datasetVariants): its fields depend on the chosen kind. */
export function fields(root, node = root, prefix = "") {
  /** @type {Field[]} */
  const out = [];
  const object = deref(root, node);
  for (const [name, prop] of Object.entries(object.properties || {})) {
    const path = prefix ? `${prefix}.${name}` : name;
    if (prop.discriminator || prop.oneOf) continue;
    const target = deref(root, prop);
    if (target && target.type === "object" && target.properties) out.push(...fields(root, target, path));
    else out.push(leaf(root, prop, path));
  }
  return out;
}

/** The dataset kinds of the discriminated union: kind → its fields (without `kind`) and description. */
export function datasetVariants(root) {
  const union = root.properties.dataset;
  /** @type {Record<string, {description: string, fields: Field[]}>} */
  const out = {};
  for (const [kind, ref] of Object.entries(union.discriminator.mapping)) {
    const node = deref(root, { $ref: ref });
    out[kind] = {
      description: node.properties.kind.description || kind,
      fields: fields(root, node, "dataset").filter((f) => f.key !== "kind"),
    };
  }
  return out;
}

/** Whether a model family reads this field: the schema lists the families of a field not all of them read
 * (`families`: the GAN's tricks and D's settings, a VAE's β…); no family given means any.
 * @param {{families?: string[]}} f @param {string | undefined} family */
export function appliesTo(f, family) {
  return !family || !f.families || f.families.includes(family);
}

const dSteps = new WeakMap(); // schema → its train.d_steps descriptor (asked on every frame of the run view)

/** Whether a family trains a discriminator, as the schema tells it: D's own settings apply to it. Only then does a
 * step have separate D and G updates, and GAN Lab's graph (z → G → D) describe the model. */
export function hasDiscriminator(root, family) {
  if (!dSteps.has(root)) dSteps.set(root, fields(root).find((f) => f.path === "train.d_steps") || null);
  const d = dSteps.get(root);
  return !d || appliesTo(d, family);
}

/** The groups the run view's controls come in, in its order: one per fix the schema describes (`fixes`: its
 * title, what it does, the paper it comes from) holding that fix's fields, then the other training settings, any
 * trick the schema names no fix for, and last the run's and the stream's own settings (folded away). Groups without
 * a field in `list` are left out, so the live controls show only the fixes that can be changed live. Given the run's
 * model family, only the fields that family reads are kept, and a fix it has no use for (every fix of the chapter
 * acts on D) is no group: a setting it still reads (lr_g) joins the training settings.
 * @param {any} root @param {Field[]} list @param {string} [family] @returns {ControlGroup[]} */
export function controlGroups(root, list, family) {
  /** @type {ControlGroup[]} */
  const groups = Object.entries(root.fixes || {}).filter(([, f]) => appliesTo(f, family))
    .map(([key, f]) => ({ key, title: f.title, does: f.does, paper: f.paper, fields: [] }));
  const train = { key: "train", title: "Training", does: family && !hasDiscriminator(root, family)
    ? "The optimiser and schedule the model trains with." : "The optimiser, loss and schedule both networks train with.",
  fields: [] };
  const tricks = { key: "tricks", title: "Other tricks", does: "", fields: [] };
  const run = { key: "run", title: "Run and streaming", does: "How long the run goes on and what the page is sent.",
    folded: true, fields: [] };
  for (const f of list.filter((x) => appliesTo(x, family))) {
    const group = groups.find((g) => g.key === f.fix) || (f.section === "train" ? train : f.section === "tricks" ? tricks : run);
    group.fields.push(f);
  }
  return [...groups, train, tricks, run].filter((g) => g.fields.length);
}

/** The default dataset kind (the schema's default is the ring). */
export const DEFAULT_KIND = "ring";

/** The test id and control name of a live field: the path without its section (train, tricks, stream), dots
 * as "-": tricks.unroll_steps → unroll_steps, tricks.instance_noise.std → instance_noise-std, steps → steps. */
export function controlName(path) {
  const parts = path.split(".");
  if (parts.length > 1 && ["train", "tricks", "stream"].includes(parts[0])) parts.shift();
  return parts.join("-");
}

function limitText(f) {
  const lo = f.minimum ?? f.exclusiveMinimum;
  const hi = f.maximum ?? f.exclusiveMaximum;
  if (lo === undefined && hi === undefined) return "";
  const left = lo === undefined ? "" : `${f.exclusiveMinimum !== undefined ? ">" : "≥"} ${lo}`;
  const right = hi === undefined ? "" : `${f.exclusiveMaximum !== undefined ? "<" : "≤"} ${hi}`;
  return [left, right].filter(Boolean).join(", ");
}

/** Human-readable limits of a field, shown beside it. */
export function limits(f) {
  if (f.type === "enum") return "";
  if (f.type === "string") return f.pattern ? `matches ${f.pattern}` : "";
  return limitText(f);
}

/** Parse raw input text into a value, or return {error}. Empty text is null for nullable fields. */
export function parse(f, raw) {
  if (f.type === "boolean") return { value: !!raw };
  const text = typeof raw === "string" ? raw.trim() : raw;
  if (text === "" || text === null || text === undefined) {
    if (f.nullable) return { value: null };
    return { error: "required" };
  }
  if (f.type === "integer" || f.type === "number") {
    const n = Number(text);
    if (!Number.isFinite(n)) return { error: "must be a number" };
    if (f.type === "integer" && !Number.isInteger(n)) return { error: "must be a whole number" };
    const error = checkNumber(f, n);
    return error ? { error } : { value: n };
  }
  if (f.type === "pair") {
    const parts = String(text).split(",").map((s) => Number(s.trim()));
    if (parts.length !== 2 || parts.some((n) => !Number.isFinite(n))) return { error: "two numbers: a, b" };
    return { value: parts };
  }
  if (f.type === "enum") {
    return f.enum.includes(text) ? { value: text } : { error: `one of ${f.enum.join(", ")}` };
  }
  const s = String(text);
  if (f.minLength !== undefined && s.length < f.minLength) return { error: `at least ${f.minLength} characters` };
  if (f.maxLength !== undefined && s.length > f.maxLength) return { error: `at most ${f.maxLength} characters` };
  if (f.pattern && !new RegExp(f.pattern).test(s)) return { error: `must match ${f.pattern}` };
  return { value: s };
}

function checkNumber(f, n) {
  if (f.minimum !== undefined && n < f.minimum) return `must be at least ${f.minimum}`;
  if (f.maximum !== undefined && n > f.maximum) return `must be at most ${f.maximum}`;
  if (f.exclusiveMinimum !== undefined && n <= f.exclusiveMinimum) return `must be more than ${f.exclusiveMinimum}`;
  if (f.exclusiveMaximum !== undefined && n >= f.exclusiveMaximum) return `must be less than ${f.exclusiveMaximum}`;
  return null;
}

/** Read a dotted path out of a nested object. */
export function getPath(obj, path) {
  return path.split(".").reduce((o, k) => (o == null ? undefined : o[k]), obj);
}

/** Set a dotted path in a nested object, creating parents. */
export function setPath(obj, path, value) {
  const parts = path.split(".");
  let node = obj;
  for (const part of parts.slice(0, -1)) node = node[part] ??= {};
  node[parts[parts.length - 1]] = value;
}

/** Short text for a value in labels and markers. */
export function show(value) {
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : String(+value.toPrecision(3));
  if (Array.isArray(value)) return value.map(show).join(", ");
  return String(value);
}
