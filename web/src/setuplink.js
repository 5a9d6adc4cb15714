// Shareable setups: a link that carries a run's config as a preset plus the settings that differ from it,
// `/?preset=ring-vanilla&set=tricks.unroll_steps=5&set=train.lr_d=0.0002`, never a run id, so it opens the start
// form filled in on any ganplay server (the config, not the run, is what a reader wants to reproduce). Pure logic:
// building a link from a config, and reading one back against the schema with one plain message per bad part,
// so a mistyped link fills in what it can and says what it could not.
import { DEFAULT_KIND, datasetVariants, fields, getPath, parse, setPath } from "./schema.js";

/** Characters a setup link may show as they are (readable links); everything else is percent-encoded. */
const enc = (text) => encodeURIComponent(text).replace(/%(3D|2C|3A|5B|5D|2F)/g, (m) => decodeURIComponent(m));

/** A value as the text of a `set=` part: numbers in full precision (round-trip), pairs as "a,b", null as "null",
 * lists (drawn points) as JSON. */
export function formatValue(value) {
  if (value === null || value === undefined) return "null";
  if (Array.isArray(value)) {
    return value.every((v) => typeof v === "number") && value.length === 2 ? value.join(",") : JSON.stringify(value);
  }
  return String(value);
}

/** Every field a `set=` may name: the schema's fields, `dataset.kind`, and the fields of each dataset kind. */
export function settable(schema) {
  const variants = datasetVariants(schema);
  const byPath = new Map(fields(schema).map((f) => [f.path, f]));
  const kinds = Object.keys(variants);
  byPath.set("dataset.kind", { path: "dataset.kind", key: "kind", type: "enum", enum: kinds, nullable: false });
  return { byPath, variants };
}

/** The schema's defaults as a full config (the "custom" start: no preset). */
export function schemaDefaults(schema) {
  const { variants } = settable(schema);
  const config = {};
  for (const f of fields(schema)) setPath(config, f.path, f.default ?? null);
  config.dataset = datasetDefaults(variants, DEFAULT_KIND in variants ? DEFAULT_KIND : Object.keys(variants)[0]);
  return config;
}

function datasetDefaults(variants, kind) {
  const block = { kind };
  for (const f of variants[kind].fields) if (f.default !== undefined) setPath(block, f.path.slice("dataset.".length), f.default);
  return block;
}

/** Leaves of a config as [dotted path, value] in the config's own order; a pair or a list is one leaf. */
function leaves(config, prefix = "") {
  const out = [];
  for (const [key, value] of Object.entries(config)) {
    const path = prefix ? `${prefix}.${key}` : key;
    if (value && typeof value === "object" && !Array.isArray(value)) out.push(...leaves(value, path));
    else out.push([path, value]);
  }
  return out;
}

/** The settings of `config` that differ from `base`, as [path, value]. A dataset of another kind is given whole
 * (its kind first), since the server replaces the dataset block rather than merging it. */
export function setupDiff(base, config) {
  const same = (a, b) => JSON.stringify(a) === JSON.stringify(b);
  const out = [];
  const otherKind = base.dataset?.kind !== config.dataset?.kind;
  for (const [path, value] of leaves(config)) {
    if (otherKind && path.startsWith("dataset.")) continue;
    if (!same(getPath(base, path), value)) out.push([path, value]);
  }
  if (otherKind) {
    const block = leaves(config.dataset, "dataset");
    out.push(...block.filter(([p]) => p === "dataset.kind"), ...block.filter(([p]) => p !== "dataset.kind"));
  }
  return out;
}

/**
 * The query of a setup link: the preset (left out for a custom run) and one `set=` per setting that differs.
 * @param {{preset?: string|null, base: any, config: any}} setup base: the preset's config (or the defaults)
 */
export function setupQuery({ preset, base, config }) {
  const parts = preset ? [`preset=${enc(preset)}`] : [];
  for (const [path, value] of setupDiff(base, config)) parts.push(`set=${enc(path)}=${enc(formatValue(value))}`);
  return parts.length ? `?${parts.join("&")}` : "?preset=";
}

/** What a page address asks for: null when it is no setup link; else the preset and the raw `set=` parts. */
export function readSetupQuery(search) {
  const params = new URLSearchParams(search);
  if (!params.has("preset") && !params.has("set")) return null;
  return { preset: params.get("preset") || null, sets: params.getAll("set") };
}

/** One `set=` value from its text, by its field: booleans as true/false, null for nullable fields, lists as JSON,
 * the rest through the form's own parser (so the link and the form accept the same values). */
export function parseValue(f, raw) {
  const text = raw.trim();
  if (f.type === "boolean") {
    if (text === "true" || text === "false") return { value: text === "true" };
    return { error: "must be true or false" };
  }
  if (f.nullable && (text === "null" || text === "")) return { value: null };
  if (f.type === "list") {
    try {
      const value = JSON.parse(text);
      return Array.isArray(value) ? { value } : { error: "must be a JSON list" };
    } catch {
      return { error: "must be a JSON list" };
    }
  }
  return parse(f, text);
}

/** The form's terse reasons ("one of a, b", "required") as the end of a sentence that starts with the path. */
const reason = (error) => (error === "required" ? "needs a value" : error.startsWith("must") ? error : `must be ${error}`);

/** Edit distance, for suggesting the setting a mistyped path meant. */
function distance(a, b) {
  let row = Array.from({ length: b.length + 1 }, (_, j) => j);
  for (let i = 1; i <= a.length; i++) {
    const next = [i];
    for (let j = 1; j <= b.length; j++) {
      next[j] = Math.min(row[j] + 1, next[j - 1] + 1, row[j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
    row = next;
  }
  return row[b.length];
}

/** A close name for an unknown path, to suggest: the same name in its section (a missing section), a name it
 * begins (a shortened name), or one or two typos away; in the path's own section first. */
function nearest(path, paths) {
  const tail = path.split(".").pop();
  const section = path.includes(".") ? path.split(".")[0] : "";
  const score = (p) => {
    const key = p.split(".").pop();
    const typos = distance(key, tail);
    const near = key === tail ? 0 : tail.length >= 3 && (key.startsWith(tail) || tail.startsWith(key)) ? 1
      : typos <= Math.min(2, Math.floor(tail.length / 3)) ? 1 + typos : Infinity;
    return near + (section && !p.startsWith(`${section}.`) ? 0.5 : 0);
  };
  let best = null;
  for (const p of paths) if (score(p) < Infinity && (!best || score(p) < score(best))) best = p;
  return best;
}

/**
 * Read a setup link against the schema and the presets: the config it describes (the preset's, or the defaults,
 * with every valid `set=` applied), what was applied, and one message per part that was not.
 * @param {{schema: any, presets: {name: string, config: any}[], defaults: any, query: {preset: string|null, sets: string[]}}} opts
 * @returns {{preset: string|null, config: any, applied: [string, any][], errors: string[]}}
 */
export function applySetup({ schema, presets, defaults, query }) {
  const errors = [];
  let preset = query.preset;
  let base = defaults;
  if (preset) {
    const found = presets.find((p) => p.name === preset);
    if (found) base = found.config;
    else {
      errors.push(`preset=${preset}: there is no preset "${preset}"; the settings start from the defaults`);
      preset = null;
    }
  }
  const config = structuredClone(base);
  const { byPath, variants } = settable(schema);
  const parsed = [];
  for (const part of query.sets) {
    const cut = part.indexOf("=");
    const path = (cut < 0 ? part : part.slice(0, cut)).trim();
    if (cut < 0) { errors.push(`set=${part}: write it as set=path=value, e.g. set=tricks.unroll_steps=5`); continue; }
    parsed.push({ part, path, raw: part.slice(cut + 1) });
  }
  // The dataset kind first: another kind replaces the dataset block with that kind's defaults, then its fields.
  parsed.sort((a, b) => (b.path === "dataset.kind") - (a.path === "dataset.kind"));
  const applied = [];
  for (const { part, path, raw } of parsed) {
    const kind = config.dataset.kind;
    const f = path.startsWith("dataset.") && path !== "dataset.kind"
      ? variants[kind]?.fields.find((v) => v.path === path)
      : byPath.get(path);
    if (!f) {
      const known = path.startsWith("dataset.") ? `the ${kind} dataset has no setting "${path.slice(8)}"`
        : `there is no setting "${path}"`;
      const near = nearest(path, [...byPath.keys(), ...(variants[kind]?.fields ?? []).map((v) => v.path)]);
      errors.push(`set=${part}: ${known}${near && near !== path ? ` (did you mean ${near}?)` : ""}`);
      continue;
    }
    const result = parseValue(f, raw);
    if (result.error) { errors.push(`set=${part}: ${path} ${reason(result.error)}`); continue; }
    if (path === "dataset.kind") {
      if (result.value !== kind) config.dataset = datasetDefaults(variants, result.value);
    } else setPath(config, path, result.value);
    applied.push([path, result.value]);
  }
  return { preset, config, applied, errors };
}
