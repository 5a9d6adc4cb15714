// The start page: pick a preset (its description says what to watch), adjust any setting in the form generated
// from the schema, choose or draw or upload the data, and Start; or start a sweep lesson below. The run list sits
// beside them.
import { api, ApiError } from "./api.js";
import { h } from "./dom.js";
import { createConfigForm } from "./form.js";
import { createRunList } from "./runlist.js";
import { createSweepList } from "./sweeplist.js";
import { configDiff } from "./diff.js";

/** @param {{schema: any, presets: any[], meta: any, me?: any, navigate: (state: any) => void}} opts */
export function createHome({ schema, presets, meta, me, navigate }) {
  const form = createConfigForm(schema, { uploads: () => api("/api/datasets") });
  const picker = h("select", { id: "preset", testid: "preset-select" },
    presets.map((p) => h("option", { value: p.name }, `${p.name} — ${p.title}`)),
    h("option", { value: "" }, "custom — the schema's defaults"));
  const about = h("div", { class: "preset-about", testid: "preset-description" });
  const start = h("button", { type: "submit", class: "primary big", testid: "start-run" }, "Start");
  const note = h("div", { class: "error", role: "alert", testid: "start-error" });
  const defaults = {};

  function pick() {
    const preset = presets.find((p) => p.name === picker.value);
    if (preset) {
      form.setConfig(preset.config);
      about.replaceChildren(h("p", {}, preset.description),
        preset.watch.length ? h("p", { class: "small" }, h("strong", {}, "Watch: "), preset.watch.join(", ")) : null,
        preset.effect ? h("p", { class: "small muted" }, h("strong", {}, "Expect: "), preset.effect) : null);
    } else {
      form.setConfig(defaults.config);
      about.replaceChildren(h("p", {}, "Every setting at its default. Change anything below."));
    }
  }

  async function upload(source) {
    if (source.points) return api("/api/datasets", { method: "POST", json: { points: source.points, name: "drawing" } });
    const body = new FormData();
    body.append("file", source.file);
    return api("/api/datasets", { method: "POST", body });
  }

  async function submit(event) {
    event.preventDefault();
    note.textContent = "";
    const { config, errors, upload: source } = form.read();
    if (errors.length) {
      note.textContent = `Fix ${errors.length === 1 ? "the field" : `${errors.length} fields`} marked below first.`;
      settings.open = true;
      errors[0].input.scrollIntoView({ block: "center" });
      errors[0].input.focus();
      return;
    }
    start.disabled = true;
    try {
      if (source) config.dataset = { kind: "upload", id: (await upload(source)).id };
      const preset = presets.find((p) => p.name === picker.value);
      const body = preset ? { preset: preset.name, overrides: configDiff(preset.config, config) } : { config };
      const run = await api("/api/runs", { method: "POST", json: body });
      navigate({ run: run.id });
    } catch (err) {
      if (err instanceof ApiError) {
        const rest = form.showErrors(err.errors);
        note.textContent = rest.length ? rest.map((e) => `${e.field}: ${e.reason}`).join("; ") : "The server refused a field marked below.";
        if (rest.length < err.errors.length) settings.open = true;
      } else note.textContent = String(err.message || err);
      start.disabled = false;
    }
  }

  const settings = h("details", { class: "settings", testid: "settings" },
    h("summary", {}, "Settings — every field of the run's config, with its limits"), form.element);
  const runs = createRunList(navigate, meta, me);
  const sweeps = createSweepList(navigate, meta);
  const element = h("div", { class: "home" },
    h("div", { class: "home-side" }, h("form", { class: "start", novalidate: true, onsubmit: submit },
      h("h1", {}, "Train a GAN and watch it learn"),
      h("label", { for: "preset" }, "Preset"), picker, about,
      h("div", { class: "row" }, start, note),
      settings), sweeps.element),
    runs.element);

  // The defaults of a custom run: the schema's, read back through a throwaway form.
  defaults.config = (() => {
    const blank = createConfigForm(schema, { uploads: async () => [] });
    return blank.read().config;
  })();
  picker.value = presets.some((p) => p.name === "ring-vanilla") ? "ring-vanilla" : presets[0]?.name ?? "";
  picker.addEventListener("change", pick);
  pick();
  return { element, destroy: () => { runs.destroy(); sweeps.destroy(); } };
}
