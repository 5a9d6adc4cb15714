// The config form, generated from the schema: one row per field with its default, limits and help text, an
// inline error under the field, and client-side validation so a bad value never leaves the page. It shows the
// settings the chosen model family reads (the schema's `families`): a VAE's form has its β and no GAN trick.
import { h } from "./dom.js";
import { appliesTo, DEFAULT_KIND, datasetVariants, fields, getPath, limits, parse, setPath, show } from "./schema.js";
import { createDrawPad } from "./draw.js";

const SECTION_TITLES = { run: "Run", dataset: "Data", model: "Model", train: "Training", tricks: "Tricks",
  stream: "Streaming" };

/** One labelled input for a field: returns the row and read/write/showError handles. */
export function fieldRow(f, idPrefix = "field") {
  const id = `${idPrefix}-${f.path}`;
  let input;
  if (f.type === "boolean") input = h("input", { type: "checkbox", id });
  else if (f.type === "enum") input = h("select", { id }, f.enum.map((v) => h("option", { value: v }, v)));
  else input = h("input", { type: "text", id, inputmode: f.type === "string" || f.type === "pair" ? "text" : "decimal",
    autocomplete: "off", placeholder: f.nullable ? "default" : "" });
  input.name = f.path;
  input.dataset.testid = id;
  const error = h("span", { class: "error", role: "alert", testid: `error-${f.path}` });
  const hint = limits(f);
  const row = h("div", { class: `field${f.type === "boolean" ? " check" : ""}`, "data-path": f.path },
    h("label", { for: id }, f.title, f.live ? h("span", { class: "badge live", title: "changeable while training" }, "live") : null),
    input,
    h("small", { class: "help" }, f.description, hint ? h("span", { class: "limits" }, ` (${hint})`) : null),
    error);
  const read = () => parse(f, f.type === "boolean" ? input.checked : input.value);
  const write = (value) => {
    if (f.type === "boolean") input.checked = !!value;
    else input.value = value === null || value === undefined ? "" : show(value);
  };
  const showError = (message) => {
    error.textContent = message || "";
    row.classList.toggle("invalid", !!message);
    input.setAttribute("aria-invalid", message ? "true" : "false");
  };
  const check = () => { const r = read(); showError(r.error); return r; };
  input.addEventListener("input", check);
  input.addEventListener("change", check);
  write(f.default);
  return { row, input, read, write, showError, field: f };
}

/**
 * @param {any} schema the RunConfig JSON schema
 * @param {{uploads: () => Promise<any[]>}} deps
 */
export function createConfigForm(schema, deps) {
  const variants = datasetVariants(schema);
  const rows = new Map();
  const sections = new Map();
  const section = (name) => {
    if (!sections.has(name)) {
      const body = h("div", { class: "fields" });
      sections.set(name, { el: h("fieldset", { class: `section section-${name}` },
        h("legend", {}, SECTION_TITLES[name] || name), body), body });
    }
    return sections.get(name);
  };
  section("run");
  const data = section("dataset");
  for (const f of fields(schema)) {
    const r = fieldRow(f);
    rows.set(f.path, r);
    section(f.section).body.append(r.row);
  }

  // ---- model family: a field the chosen family does not read is hidden (a section left empty with it), and sent
  // at its default, which for the GAN's tricks is "off", so a preset's trick cannot follow it into another family.
  const familyRow = rows.get("model.family");
  const family = () => (familyRow ? familyRow.read().value : undefined);
  const applies = (r) => appliesTo(r.field, family());
  function showFamily() {
    for (const r of rows.values()) r.row.hidden = !applies(r);
    for (const [name, s] of sections) {
      if (name !== "dataset") s.el.hidden = ![...s.body.children].some((row) => !row.hidden);
    }
  }
  familyRow?.input.addEventListener("change", showFamily);

  // ---- dataset: the kind picks which variant's fields show
  const kindSelect = h("select", { id: "field-dataset.kind", testid: "field-dataset.kind", name: "dataset.kind" },
    Object.keys(variants).map((kind) => h("option", { value: kind }, kind)));
  const kindHelp = h("small", { class: "help" });
  const variantBox = h("div", { class: "fields" });
  data.body.append(h("div", { class: "field" }, h("label", { for: "field-dataset.kind" }, "Dataset"), kindSelect,
    kindHelp), variantBox);
  const pad = createDrawPad();
  const file = h("input", { type: "file", accept: ".npz,.zip,.json", testid: "upload-file" });
  const saved = h("select", { testid: "upload-saved" });
  const source = h("select", { testid: "upload-source" },
    h("option", { value: "draw" }, "draw it here"), h("option", { value: "file" }, "upload a file (.npz, zip of images)"),
    h("option", { value: "saved" }, "an earlier upload"));
  const datasetError = h("span", { class: "error", role: "alert", testid: "error-dataset" });
  let variantRows = new Map();
  let preferredUpload = "";

  function renderVariant(kind) {
    variantRows = new Map();
    variantBox.replaceChildren();
    kindHelp.textContent = variants[kind].description;
    for (const f of variants[kind].fields) {
      if (f.type === "list") { // user-drawn points
        variantBox.append(h("div", { class: "field wide" }, h("label", {}, "Draw the distribution"), pad.element,
          h("small", { class: "help" }, f.description)));
        continue;
      }
      if (kind === "upload" && f.key === "id") {
        const pick = () => {
          pad.element.hidden = source.value !== "draw";
          file.hidden = source.value !== "file";
          saved.hidden = source.value !== "saved";
        };
        source.onchange = pick;
        deps.uploads().then((list) => {
          saved.replaceChildren(...list.map((d) =>
            h("option", { value: d.id }, `${d.name} (${d.format}, ${d.shape.join("×")})`)));
          if (preferredUpload) saved.value = preferredUpload;
        }).catch(() => {});
        variantBox.append(h("div", { class: "field wide" }, h("label", {}, "Data from"), source, pad.element, file, saved,
          h("small", { class: "help" }, "A drawing becomes a JSON-points upload (POST /api/datasets); files are .npz (x, optional y) or a zip of images.")));
        pick();
        continue;
      }
      const r = fieldRow(f);
      variantRows.set(f.path, r);
      variantBox.append(r.row);
    }
    variantBox.append(datasetError);
  }
  kindSelect.addEventListener("change", () => renderVariant(kindSelect.value));
  kindSelect.value = DEFAULT_KIND in variants ? DEFAULT_KIND : Object.keys(variants)[0];
  renderVariant(kindSelect.value);

  /** Fill every field from a full config (a preset's or a run's). */
  function setConfig(config) {
    const value = (path, r) => { const v = getPath(config, path); return v === undefined ? r.field.default : v; };
    for (const [path, r] of rows) { r.write(value(path, r)); r.showError(""); }
    showFamily();
    kindSelect.value = config.dataset.kind;
    renderVariant(config.dataset.kind);
    for (const [path, r] of variantRows) r.write(value(path, r));
    if (config.dataset.kind === "upload") {
      preferredUpload = config.dataset.id;
      saved.replaceChildren(h("option", { value: config.dataset.id }, config.dataset.id));
      source.value = "saved";
      source.onchange();
    }
    if (config.dataset.kind === "points") pad.setPoints(config.dataset.points);
  }

  /** The config the form holds, or the errors shown inline. `dataset.source` tells the caller what to upload. */
  function read() {
    const config = {};
    const errors = [];
    for (const [path, r] of [...rows, ...variantRows]) {
      if (!applies(r)) { r.showError(""); setPath(config, path, r.field.default); continue; }
      const result = r.read();
      r.showError(result.error);
      if (result.error) errors.push({ field: path, reason: result.error, input: r.input });
      else setPath(config, path, result.value);
    }
    const kind = kindSelect.value;
    config.dataset = { ...(config.dataset || {}), kind };
    datasetError.textContent = "";
    let upload = null;
    const needsDrawing = kind === "points" || (kind === "upload" && source.value === "draw");
    if (needsDrawing && pad.points().length < 20) {
      datasetError.textContent = "draw at least a stroke (20 points) first";
      errors.push({ field: "dataset", reason: datasetError.textContent, input: pad.element.querySelector("canvas") });
    }
    if (kind === "points") config.dataset.points = pad.points();
    if (kind === "upload") {
      if (source.value === "draw") upload = { points: pad.points() };
      else if (source.value === "file") {
        if (!file.files.length) {
          datasetError.textContent = "choose a file to upload";
          errors.push({ field: "dataset", reason: datasetError.textContent, input: file });
        } else upload = { file: file.files[0] };
      } else if (!saved.value) {
        datasetError.textContent = "no earlier uploads; draw or upload one";
        errors.push({ field: "dataset", reason: datasetError.textContent, input: saved });
      } else config.dataset.id = saved.value;
    }
    return { config, errors, upload };
  }

  /** Show server-side errors ({field, reason}) next to their fields; returns those that have no field here. */
  function showErrors(errors) {
    const rest = [];
    for (const e of errors) {
      const r = rows.get(e.field) || variantRows.get(e.field);
      if (r) r.showError(e.reason);
      else rest.push(e);
    }
    return rest;
  }

  /** Mark the rows a shared setup link set (the reader sees what the link changed); unmarks the others. */
  function mark(paths) {
    const wanted = new Set(paths);
    for (const [path, r] of [...rows, ...variantRows]) r.row.classList.toggle("from-link", wanted.has(path));
  }

  showFamily();
  const element = h("div", { class: "config-form" }, [...sections.values()].map((s) => s.el));
  return { element, setConfig, read, showErrors, mark };
}
