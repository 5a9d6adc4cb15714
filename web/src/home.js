// The start page. First the chapter's lessons as a gallery (gallery.js): the taxonomy of generative models (one
// family of each kind of density, run side by side), then each problem beside its fix, run both in one click.
// Below it, one click away from the top ("Free-form run"), the free-form start: pick a preset (its
// description says what to watch), adjust any setting in the form generated from the schema, choose or draw or
// upload the data, and Start; or start a sweep lesson. The run list sits beside them. A shared setup link
// (`/?preset=NAME&set=path=value…`, setuplink.js) opens the free-form start with the form filled in, and says on
// the page which parts of the link it could not use.
import { api, ApiError } from "./api.js";
import { h } from "./dom.js";
import { createConfigForm } from "./form.js";
import { createGallery } from "./gallery.js";
import { createRunList } from "./runlist.js";
import { applySetup, schemaDefaults } from "./setuplink.js";
import { createSweepList } from "./sweeplist.js";
import { configDiff } from "./diff.js";

/**
 * @param {{schema: any, presets: any[], lessons: any[], meta: any, me?: any, navigate: (state: any) => void,
 *   setup?: {preset: string|null, sets: string[]} | null}} opts lessons: GET /api/lessons; setup: a shared setup
 *   link to fill the form from
 */
export function createHome({ schema, presets, lessons, meta, me, navigate, setup = null }) {
  const form = createConfigForm(schema, { uploads: () => api("/api/datasets") });
  const picker = h("select", { id: "preset", testid: "preset-select" },
    presets.map((p) => h("option", { value: p.name }, `${p.name} — ${p.title}`)),
    h("option", { value: "" }, "custom — the schema's defaults"));
  const about = h("div", { class: "preset-about", testid: "preset-description" });
  const start = h("button", { type: "submit", class: "primary big", testid: "start-run" }, "Start");
  const note = h("div", { class: "error", role: "alert", testid: "start-error" });
  const defaults = {};
  const setupNote = h("div", { class: "setup-note", testid: "setup-link-note", hidden: true });

  function pick() {
    setupNote.replaceChildren();
    setupNote.hidden = true;
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
  const gallery = createGallery({ lessons, presets, meta, navigate });
  const free = h("div", { class: "home", id: "free-form" },
    h("div", { class: "home-side" }, h("form", { class: "start", novalidate: true, onsubmit: submit },
      h("h2", { id: "free-form-title" }, "Free-form run: any preset, any setting"),
      setupNote,
      h("label", { for: "preset" }, "Preset"), picker, about,
      h("div", { class: "row" }, start, note),
      settings), sweeps.element),
    runs.element);
  const toFree = (e) => {
    e.preventDefault();
    free.scrollIntoView({ block: "start" });
    picker.focus({ preventScroll: true });
  };
  const element = h("div", { class: "home-page" },
    h("div", { class: "gallery-head" },
      h("div", {}, h("h1", { id: "gallery-title" }, "Train generative models and watch them learn: the chapter's lessons"),
        h("p", { class: "muted" }, "Each card is a lesson, in the chapter's order. First the taxonomy: a model of "
          + "each kind of density (explicit, approximate, implicit) on the same data, started together. Then the GAN's "
          + "problems and their fixes: what the problem looks like, what the fix does to it, and the metrics that show "
          + "it. “Run both” trains the two on the same seed, side by side.")),
      h("nav", { class: "gallery-links" },
        h("a", { href: "#free-form", class: "button", testid: "free-form-link", onclick: toFree },
          "Free-form run: pick a preset and settings ↓"),
        h("a", { href: "#run-list-box", class: "small", onclick: (e) => { e.preventDefault(); runs.element.scrollIntoView(); } },
          "your runs ↓"))),
    gallery.element, free);
  runs.element.id = "run-list-box";

  // The defaults of a custom run: the schema's, read back through a throwaway form.
  defaults.config = (() => {
    const blank = createConfigForm(schema, { uploads: async () => [] });
    return blank.read().config;
  })();
  picker.value = presets.some((p) => p.name === "ring-vanilla") ? "ring-vanilla" : presets[0]?.name ?? "";
  picker.addEventListener("change", pick);
  pick();
  if (setup) openSetup(setup);
  return { element, destroy: () => { gallery.destroy(); runs.destroy(); sweeps.destroy(); } };

  /** Fill the form from a shared setup link, show what it set, and say plainly which parts could not be used. */
  function openSetup(query) {
    const { preset, config, applied, errors } = applySetup({ schema, presets, defaults: schemaDefaults(schema), query });
    picker.value = preset ?? "";
    pick();
    form.setConfig(config);
    form.mark(applied.map(([path]) => path));
    const summary = applied.length
      ? h("p", {}, `Opened from a shared setup: ${preset ?? "the defaults"}, with `,
        applied.flatMap(([path, value], i) => [i ? ", " : "", h("code", {}, `${path} = ${JSON.stringify(value)}`)]), ".")
      : h("p", {}, `Opened from a shared setup: ${preset ?? "the defaults"}${errors.length ? "" : " as it is"}.`);
    const problems = errors.length ? h("div", { class: "error", role: "alert", testid: "setup-link-error" },
      h("p", {}, errors.length === 1 ? "One part of this link could not be used:" : `${errors.length} parts of this link could not be used:`),
      h("ul", {}, errors.map((e) => h("li", {}, e)))) : null;
    setupNote.replaceChildren(summary, problems ?? "");
    setupNote.hidden = false;
    if (applied.length) settings.open = true;
    requestAnimationFrame(() => free.scrollIntoView({ block: "start" }));
  }
}
