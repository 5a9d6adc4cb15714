// "Copy link to this setup" for a run view: the run's config as a shared setup link (its preset plus the settings
// that differ from it: setuplink.js), not its id, so whoever opens it gets the start form filled in with this
// setup, on this server or another. The config is the run's as it is now, live changes included. The link is
// shown beside the button as well as copied, since a page served over plain http to another machine has no
// clipboard API.
import { api } from "./api.js";
import { h } from "./dom.js";
import { schemaDefaults, setupQuery } from "./setuplink.js";

let presetsOnce = null; // the presets, read once per page on the first copy

/** @param {any} schema the RunConfig JSON schema (GET /api/schema) */
export function createSetupCopy(schema) {
  let run = null;
  const output = h("input", { type: "text", readonly: true, class: "setup-link", testid: "setup-link", hidden: true,
    "aria-label": "link to this setup", onfocus: (e) => e.target.select() });
  const said = h("span", { class: "muted small", role: "status", testid: "setup-link-status" });
  const button = h("button", { type: "button", class: "link", testid: "copy-setup-link", disabled: true,
    title: "A link that opens the start form with this run's settings (its preset and what differs), not this run",
    onclick: copy }, "copy link to this setup");
  const element = h("span", { class: "setup-copy small" }, button, output, said);

  async function copy() {
    if (!run) return;
    said.textContent = "";
    presetsOnce ??= api("/api/presets").catch((err) => { presetsOnce = null; throw err; });
    try {
      const preset = (await presetsOnce).find((p) => p.name === run.preset);
      const query = setupQuery({ preset: preset?.name, base: preset ? preset.config : schemaDefaults(schema),
        config: run.config });
      output.value = `${location.origin}/${query}`;
      output.hidden = false;
      try {
        await navigator.clipboard.writeText(output.value);
        said.textContent = "copied";
      } catch {
        output.focus();
        said.textContent = "select it and copy";
      }
    } catch (err) {
      said.textContent = `could not build the link: ${err.message}`;
    }
  }

  /** The run as the stream has it now (its config follows live changes). */
  function update(current) {
    run = current;
    button.disabled = !run;
  }

  return { element, update };
}
