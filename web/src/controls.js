// Live controls: every live field of the schema as a toggle, slider or select, generated (a new live field
// appears here without a page change). A change is validated against the schema's limits, then sent as a patch;
// the run's `config` acknowledgement moves the control to the applied value.
import { h } from "./dom.js";
import { controlName, fields, getPath, limits, parse, show } from "./schema.js";

const GROUPS = [["tricks", "Tricks"], ["train", "Training"], ["run", "Run"], ["stream", "Streaming"]];

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
 * @param {any} schema
 * @param {(path: string, value: unknown) => void} onPatch
 */
export function createControls(schema, onPatch) {
  const live = fields(schema).filter((f) => f.live);
  const byPath = new Map();
  const groups = new Map(GROUPS.map(([key, title]) => [key, h("div", { class: "controls-grid" })]));
  for (const f of live) {
    const name = controlName(f.path);
    const { input, kind } = widget(f);
    input.dataset.testid = `trick-${name}`;
    input.id = `trick-${name}`;
    input.name = f.path;
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
    (groups.get(f.section) || groups.get("run")).append(row);
  }

  const element = h("section", { class: "controls", "aria-label": "Live controls" },
    h("h2", {}, "Live controls"),
    h("p", { class: "muted small" }, "Changes apply at the next step, without restarting, and show as markers on the charts."),
    GROUPS.map(([key, title], i) => groups.get(key).children.length
      ? h("details", { open: i < 2 }, h("summary", {}, title), groups.get(key)) : null));

  return {
    element,
    /** Show the run's current (applied) config; a control the user is editing keeps its text. */
    setConfig(config) {
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
    setEnabled(enabled) {
      for (const c of byPath.values()) c.input.disabled = !enabled;
    },
  };
}
