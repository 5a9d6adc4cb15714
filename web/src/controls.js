// Live controls: every live field of the schema that the run's model family reads (the schema's `families`) as a
// toggle, slider or select, generated (a new live field appears here without a page change), grouped by the fix it
// is, each group with the schema's line on what the fix does and the paper it comes from. A change is validated against the schema's limits, then sent as a patch; the
// run's `config` acknowledgement moves the control to the applied value. The settings fixed for the run's life are
// listed folded away below them.
import { h } from "./dom.js";
import { appliesTo, controlGroups, controlName, fields, getPath, hasDiscriminator, limits, parse, show } from "./schema.js";
import { canStep, PACE_PATH, paceField, paceText, readPace, refusalText, UPDATES, whyNoStep } from "./stepping.js";

// Live fields that have a control of their own elsewhere in the run view (slow motion sits with the step buttons).
const OWN_CONTROL = new Set([PACE_PATH]);

/** "Instance noise · Std" for a nested field, so same-named leaves stay distinguishable. */
function title(f) {
  const parts = f.path.split(".");
  if (parts.length < 3) return f.title;
  const parent = parts[parts.length - 2].replace(/_/g, " ");
  return `${parent[0].toUpperCase()}${parent.slice(1)} · ${f.title}`;
}

function widget(f) {
  const span = (f.maximum ?? 0) - (f.minimum ?? 0);
  if (f.type === "boolean") return { input: h("input", { type: "checkbox", role: "switch" }), kind: "toggle" };
  if (f.type === "enum") return { input: h("select", {}, f.enum.map((v) => h("option", { value: v }, v))), kind: "select" };
  const bounded = f.minimum !== undefined && f.maximum !== undefined && !f.nullable;
  if (f.type === "integer" && bounded && span <= 20) {
    return { input: h("input", { type: "range", min: f.minimum, max: f.maximum, step: 1 }), kind: "slider" };
  }
  if (f.type === "number" && bounded && f.maximum <= 5) {
    return { input: h("input", { type: "range", min: f.minimum, max: f.maximum, step: span / 100 }), kind: "slider" };
  }
  return { input: h("input", { type: "text", inputmode: "decimal", placeholder: f.nullable ? "default" : "" }), kind: "text" };
}

/**
 * The controls are built for the run's model family once its config is known (`setConfig`): a family is offered
 * only the settings it reads (the schema's `families`), so a VAE gets its β and no unrolling, a GAN no β.
 * @param {any} schema
 * @param {(path: string, value: unknown) => void} onPatch
 * @param {Node | null} [lead] shown first, above the generated controls (the run view's slow motion and steps)
 */
export function createControls(schema, onPatch, lead = null) {
  const allLive = fields(schema).filter((f) => f.live && !OWN_CONTROL.has(f.path));
  const allFixed = fields(schema).filter((f) => !f.live);
  const familyDefault = fields(schema).find((f) => f.path === "model.family")?.default;
  let builtFor = null; // the family the controls were built for (fixed for a run's life)
  let fixedFields = [];
  let byPath = new Map();
  let enabled = true;
  const groupsBox = h("div", { class: "control-groups" });
  const fixTitle = (f) => (f.fix && schema.fixes?.[f.fix] ? schema.fixes[f.fix].title : null);
  const fixedList = h("dl", { class: "fixed-list small" });
  const fixedBox = h("details", { class: "fixed-settings", testid: "fixed-settings" },
    h("summary", {}, "Settings fixed for this run"),
    h("p", { class: "muted small" }, "They built the networks, the data and the random stream; change them with “Fork here…”."),
    fixedList);

  /** The groups and rows of the settings `family` reads. */
  function build(family) {
    builtFor = family;
    const live = allLive.filter((f) => appliesTo(f, family));
    fixedFields = allFixed.filter((f) => appliesTo(f, family));
    byPath = new Map();
    const grids = new Map(); // a field's path → the grid of its group
    const groups = controlGroups(schema, live, family).map((g) => {
      const grid = h("div", { class: "controls-grid" });
      for (const f of g.fields) grids.set(f.path, grid);
      const about = g.does ? h("p", { class: "fix-about small" }, g.does, g.paper ? [" ", h("cite", {}, g.paper)] : null) : null;
      return g.folded
        ? h("details", { class: "fix-group folded", testid: `controls-${g.key}` }, h("summary", {}, g.title), about, grid)
        : h("fieldset", { class: "fix-group", testid: `controls-${g.key}`, "data-fix": g.key }, h("legend", {}, g.title), about, grid);
    });
    for (const f of live) {
      const name = controlName(f.path);
      const { input, kind } = widget(f);
      input.dataset.testid = `trick-${name}`;
      input.id = `trick-${name}`;
      input.name = f.path;
      input.disabled = !enabled;
      const readout = h("output", { for: input.id, class: "readout" });
      const error = h("span", { class: "error", role: "alert" });
      const hint = limits(f);
      const row = h("div", { class: `control control-${kind}`, title: f.description },
        h("label", { for: input.id }, title(f), kind === "slider" ? readout : null),
        input,
        h("small", { class: "help" }, f.description, hint ? ` (${hint})` : ""),
        error);
      const read = () => parse(f, kind === "toggle" ? input.checked : input.value);
      const write = (value) => {
        if (kind === "toggle") input.checked = !!value;
        else input.value = value === null || value === undefined ? "" : show(value);
        readout.textContent = value === null || value === undefined ? "" : show(value);
      };
      input.addEventListener("input", () => { if (kind === "slider") readout.textContent = input.value; });
      input.addEventListener("change", () => {
        const result = read();
        error.textContent = result.error || "";
        row.classList.toggle("invalid", !!result.error);
        if (!result.error) { row.classList.add("pending"); onPatch(f.path, result.value); }
      });
      byPath.set(f.path, { row, input, write, error, f });
      grids.get(f.path).append(row);
    }
    groupsBox.replaceChildren(...groups);
  }

  /** The run's fixed settings as "name: value" pairs: the dataset's, then every non-live field of the schema. */
  function renderFixed(config) {
    const rows = Object.entries(config.dataset || {}).map(([key, value]) => [`Dataset · ${key.replace(/_/g, " ")}`, value, ""]);
    for (const f of fixedFields) rows.push([fixTitle(f) || `${f.section === "run" ? "" : `${f.section} · `}${title(f)}`, getPath(config, f.path), f.description]);
    fixedList.replaceChildren(...rows.flatMap(([name, value, help]) => [
      h("dt", { title: help || null }, name),
      h("dd", {}, Array.isArray(value) && value.length > 4 ? `${value.length} values` : value === null || value === undefined ? "default" : show(value)),
    ]));
  }

  const element = h("section", { class: "controls", "aria-label": "Live controls" },
    h("h2", {}, "Live controls"),
    h("p", { class: "muted small" }, "Changes apply at the next step, without restarting, and show as markers on the charts."),
    lead,
    groupsBox,
    fixedBox);

  return {
    element,
    /** Show the run's current (applied) config; a control the user is editing keeps its text. The first config
     * builds the controls for the run's family. */
    setConfig(config) {
      const family = getPath(config, "model.family") ?? familyDefault;
      if (family !== builtFor) build(family);
      renderFixed(config);
      for (const [path, c] of byPath) {
        if (document.activeElement === c.input && c.input.type === "text") continue;
        const value = getPath(config, path);
        c.write(value === undefined ? c.f.default : value); // a field newer than the run's config: its default
        c.row.classList.remove("pending");
      }
    },
    /** A refused patch: the server's reason next to the control. */
    showErrors(errors) {
      for (const e of errors) {
        const c = byPath.get(e.field);
        if (c) { c.error.textContent = e.reason; c.row.classList.add("invalid"); c.row.classList.remove("pending"); }
      }
    },
    setEnabled(on) {
      enabled = on;
      for (const c of byPath.values()) c.input.disabled = !on;
    },
  };
}

/**
 * Slow motion and single steps (GAN Lab's manual mode): a steps-per-second limit, and while the run is paused,
 * buttons for one D update, one G update or one full step. Each button is a real <button> with its own label and a
 * one-line explanation (keyboard: Tab, then Enter or Space); they work only while the server allows a step (paused)
 * and this user may steer the run. The pace is a live patch of `stream.max_steps_per_second`, read and checked from
 * the schema; the line beside it tells the limit and the newest row's it/s.
 * @param {any} schema
 * @param {{onStep: (update: string) => Promise<unknown>, onPatch: (path: string, value: unknown) => void}} actions
 */
export function createStepping(schema, { onStep, onPatch }) {
  const field = paceField(schema);
  let busy = false;
  let last = { meta: null, status: "", may: false };
  const note = h("p", { class: "step-note small", id: "step-note", role: "status", testid: "step-note" });
  const buttons = UPDATES.map((u) => h("button", {
    type: "button", testid: u.testid, title: u.help, "aria-describedby": "step-note", disabled: true,
    onclick: () => take(u),
  }, u.label));
  const pace = h("input", {
    type: "number", id: "slow-motion", name: PACE_PATH, testid: "slow-motion", inputmode: "decimal", step: "any",
    min: field?.minimum ?? 0, max: field?.maximum ?? "", placeholder: "0",
  });
  const paceNow = h("output", { for: "slow-motion", class: "readout", testid: "pace" });
  const paceError = h("span", { class: "error", role: "alert" });
  pace.addEventListener("change", () => {
    const result = readPace(field, pace.value);
    paceError.textContent = result.error || "";
    if (!result.error) onPatch(PACE_PATH, result.value);
  });
  const element = h("section", { class: "stepping", "aria-label": "Slow motion and single steps", testid: "stepping" },
    h("h2", {}, "Step by hand"),
    field ? h("div", { class: "control" },
      h("label", { for: "slow-motion" }, "Slow motion: steps per second (0 or empty: full speed)"),
      pace,
      h("small", { class: "help" }, paceNow),
      paceError) : null,
    h("div", { class: "row wrap step-buttons", role: "group", "aria-label": "Single steps while paused" }, buttons),
    note);

  async function take(u) {
    busy = true;
    refresh();
    note.textContent = `${u.label}…`;
    try {
      await onStep(u.update);
      note.textContent = `${u.label}: sent; its row follows on the charts.`;
    } catch (err) {
      note.textContent = refusalText(err.errors) || err.message;
    } finally {
      busy = false;
      refresh();
    }
  }

  function refresh() {
    const on = !busy && last.meta !== null && canStep(last.meta, last.status, last.may);
    for (const b of buttons) b.disabled = !on;
    if (!busy && !on && last.meta) note.textContent = whyNoStep(last.meta, last.status, last.may);
  }

  return {
    element,
    /** The run as it stands: which buttons work, the pace set (unless being typed) and the pace measured. */
    update({ meta, status, may, config, itPerS }) {
      const was = last.status;
      last = { meta, status, may };
      if (status !== was && canStep(meta, status, may) && !busy) note.textContent = "Paused: step it by hand.";
      refresh();
      // A watcher sees the pace, not the controls (as with Pause); a family without D has no D or G update apart.
      const apart = hasDiscriminator(schema, getPath(config, "model.family"));
      UPDATES.forEach((u, i) => {
        buttons[i].hidden = !may || (u.update !== "both" && !apart);
        if (u.update === "both") buttons[i].title = apart ? u.help : "One ordinary training step: one update of the model on a fresh batch.";
      });
      pace.disabled = !may;
      const limit = getPath(config, PACE_PATH) ?? 0;
      if (document.activeElement !== pace) pace.value = show(limit);
      paceNow.textContent = paceText(limit, itPerS);
    },
    /** The worker could not take a step it was sent (a `step_rejected` event): its reason. */
    refused(errors) {
      note.textContent = refusalText(errors) || "the step was refused";
    },
  };
}
