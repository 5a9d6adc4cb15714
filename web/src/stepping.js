// Slow motion and single steps (GAN Lab's manual mode), the part without a DOM: which single updates there are,
// when the page may offer them, how a typed pace is read and what the page says about it. The server decides in
// which statuses a step is allowed (GET /api/meta's actions) and the config schema gives the pace's limits, so this
// module keeps no list of its own of either. Importable by node's test runner.
import { allows } from "./meta.js";
import { fields, parse, show } from "./schema.js";

/** The config field slow motion sets (live): at most this many steps a second, 0 for full speed. */
export const PACE_PATH = "stream.max_steps_per_second";

/** The single updates a paused run takes by hand, in the order the buttons show them. `update` is what
 * `POST /api/runs/{id}/step` (and the stream's `step` command) takes. */
export const UPDATES = [
  { update: "d", testid: "step-d", label: "One D update",
    help: "One discriminator update on a fresh batch; G stays as it is. Counts as one step." },
  { update: "g", testid: "step-g", label: "One G update",
    help: "One generator update against D as it is now; D stays as it is. Counts as one step." },
  { update: "both", testid: "step-both", label: "One full step",
    help: "One ordinary training step: d_steps D updates, then one G update." },
];

/** Whether the step buttons work now: the server allows a step in this status (paused) and this user may steer
 * the run. */
export function canStep(meta, status, mayControl) {
  return Boolean(mayControl) && allows(meta, "step", status);
}

/** The schema's descriptor of the pace field, or null on a server whose config has none. */
export function paceField(schema) {
  return fields(schema).find((f) => f.path === PACE_PATH) || null;
}

/** A typed pace, checked against the schema's limits: {value} or {error}. Empty means full speed (0). */
export function readPace(field, text) {
  const raw = typeof text === "string" ? text.trim() : text;
  if (raw === "" || raw === null || raw === undefined) return { value: 0 };
  return parse(field, raw);
}

/** One line on the pace: the limit set, and the pace measured (the newest row's it/s) when there is one. */
export function paceText(limit, itPerS) {
  const set = !limit ? "full speed" : `at most ${show(limit)} step${limit === 1 ? "" : "s"} a second`;
  if (itPerS === null || itPerS === undefined || !Number.isFinite(itPerS)) return set;
  const now = itPerS >= 100 ? Math.round(itPerS).toString() : itPerS >= 10 ? itPerS.toFixed(0) : itPerS.toFixed(1);
  return `${set} · now ${now} it/s`;
}

/** The reason a step was refused, from the server's reply or a `step_rejected` event; null when it says none. */
export function refusalText(errors) {
  if (!Array.isArray(errors) || !errors.length) return null;
  return errors.map((e) => e.reason || String(e)).join("; ");
}

/** Why the step buttons are off, for their note; empty when they are on. */
export function whyNoStep(meta, status, mayControl) {
  if (!mayControl) return "";
  if (canStep(meta, status, mayControl)) return "";
  return allows(meta, "pause", status) ? "Pause the run to step it by hand." : "";
}
