// What the model-overview graph (graph.js) shows, worked out without a DOM: which of the run's tricks are on (from
// its config, as the trainer reads it) and the live values on the graph's edges (from the newest metrics row). Pure,
// so node's test runner checks it; graph.js only draws.

/**
 * @typedef {{id: string, label: string, path: string, where: string, on: (c: any) => boolean,
 *   detail: (c: any, row: Record<string, number | null>) => string}} Trick
 */

/** The tricks the graph draws, each where it acts on the game; `path` is the config field that switches it on. The
 * activity rules are the trainer's (models/tricks.py, models/trainer.py): a trick is on when its setting is not its
 * "off" value. */
export const TRICKS = /** @type {Trick[]} */ ([
  { id: "instance_noise", label: "instance noise", path: "tricks.instance_noise.std",
    where: "Gaussian noise added to every input of D, real and fake (Sønderby et al. 2017; Arjovsky & Bottou 2017)",
    on: (c) => c.tricks.instance_noise.std > 0,
    detail: (c, row) => `σ ${num(row.noise_std ?? c.tricks.instance_noise.std)}` },
  { id: "label_smoothing", label: "smoothed real label", path: "tricks.label_smoothing",
    where: "D's target for real data becomes 1 − α in its loss; fakes stay 0 (Salimans et al. 2016)",
    on: (c) => c.tricks.label_smoothing > 0,
    detail: (c) => `real target ${num(1 - c.tricks.label_smoothing)}` },
  { id: "unroll", label: "unrolled D", path: "tricks.unroll_steps",
    where: "G's loss is taken against D after K look-ahead updates (Metz et al. 2017)",
    on: (c) => c.tricks.unroll_steps > 0,
    detail: (c) => `look ahead ${c.tricks.unroll_steps} D step${c.tricks.unroll_steps === 1 ? "" : "s"}` },
  { id: "replay", label: "replay buffer", path: "tricks.replay.size",
    where: "past fakes are mixed into D's fake batches (Shrivastava et al. 2017)",
    on: (c) => c.tricks.replay.size > 0,
    detail: (c, row) => `${c.tricks.replay.size} kept · ${pct(row.replay_fraction ?? c.tricks.replay.fraction)} of D's fakes` },
  { id: "feature_matching", label: "feature matching", path: "tricks.feature_matching.enabled",
    where: "G's loss matches the mean of D's last hidden layer on real data (Salimans et al. 2016 §3.1)",
    on: (c) => Boolean(c.tricks.feature_matching.enabled),
    detail: (c) => `weight ${num(c.tricks.feature_matching.weight)}${c.tricks.feature_matching.keep_adversarial ? " + adversarial" : ""}` },
  { id: "pack", label: "packing", path: "tricks.pack",
    where: "D judges m samples at once, all real or all fake (PacGAN, Lin et al. 2018)",
    on: (c) => c.tricks.pack > 1,
    detail: (c) => `m = ${c.tricks.pack}` },
  { id: "r1", label: "R1 penalty", path: "tricks.r1_gamma",
    where: "γ/2·‖∇ₓD(x)‖² on real data added to D's loss (Mescheder et al. 2018)",
    on: (c) => c.tricks.r1_gamma > 0,
    detail: (c, row) => `γ ${num(row.r1_gamma ?? c.tricks.r1_gamma)}` },
]);

/** The metrics the graph's edges carry, in the order they are drawn. */
export const EDGE_METRICS = ["d_real", "d_fake", "d_loss", "g_loss", "grad_norm_d", "grad_norm_g"];
/** Metrics a trick's detail reads. */
export const TRICK_METRICS = ["noise_std", "replay_fraction", "r1_gamma"];

/** A number for a small label: 3 significant digits, exponent notation when far from 1, "–" when missing. */
export function num(v) {
  if (v === null || v === undefined || !Number.isFinite(v)) return "–";
  if (v === 0) return "0";
  const a = Math.abs(v);
  if (a >= 1e4 || a < 1e-3) return v.toExponential(1);
  return String(Number(v.toPrecision(3)));
}

const pct = (v) => (v === null || v === undefined || !Number.isFinite(v) ? "–" : `${Math.round(v * 100)} %`);

/** {trick id: on?} for a run's config; a config without a tricks block (an older run) has every trick off. */
export function activeTricks(config) {
  const out = {};
  for (const t of TRICKS) {
    try { out[t.id] = Boolean(config && config.tricks && t.on(config)); } catch { out[t.id] = false; }
  }
  return out;
}

/** The tricks switched on between two configs (ids): what the graph flashes when a live change arrives. */
export function switchedOn(before, after) {
  const was = activeTricks(before), now = activeTricks(after);
  return TRICKS.map((t) => t.id).filter((id) => now[id] && !was[id]);
}

/** Each edge's text, from the newest metrics row ({name: value | null}); `label` names a metric (meta's labels). */
export function edgeLabels(row, label = (name) => name) {
  const out = {};
  for (const name of EDGE_METRICS) out[name] = `${label(name)} ${num(row[name])}`;
  return out;
}

/** Each trick's detail line for a config and the newest metrics row; "" for a trick that is off. */
export function trickDetails(config, row) {
  const on = activeTricks(config);
  const out = {};
  for (const t of TRICKS) out[t.id] = on[t.id] ? t.detail(config, row) : "";
  return out;
}

/** The newest value of each metric the graph reads, from a MetricStore (or anything with `last(name)`). */
export function newestRow(store) {
  const row = {};
  for (const name of [...EDGE_METRICS, ...TRICK_METRICS]) row[name] = store.last(name);
  return row;
}
