// The alert banner: what went wrong in words a newcomer can act on, and a one-click suggested trick.
import { h } from "./dom.js";

const TITLES = {
  mode_collapse: "Mode collapse",
  d_overpowering: "The discriminator is overpowering the generator",
  vanishing_gradient: "The generator's gradient has vanished",
  divergence: "Training diverged",
};

/** The trick to suggest for an alert, given the run's config: [label, patch] or null. */
export function suggestion(kind, config) {
  const image = config.model.arch === "dcgan";
  if (kind === "mode_collapse") {
    return image ? ["feature matching", { tricks: { feature_matching: { enabled: true } } }]
      : ["unroll D 5 steps", { tricks: { unroll_steps: 5 } }];
  }
  if (kind === "d_overpowering") return ["label smoothing 0.2", { tricks: { label_smoothing: 0.2 } }];
  if (kind === "vanishing_gradient") {
    return config.train.loss === "minimax" ? ["non-saturating loss", { train: { loss: "nonsaturating" } }]
      : ["instance noise σ 0.3", { tricks: { instance_noise: { std: 0.3, anneal_steps: 1000 } } }];
  }
  return null; // divergence ends the run: fork it with a lower learning rate instead
}

/** True when every leaf of a nested patch already has that value in the config. */
function applied(patch, config) {
  return Object.entries(patch).every(([key, value]) => (value && typeof value === "object"
    ? applied(value, (config || {})[key]) : (config || {})[key] === value));
}

/** @param {(patch: any) => void} applyPatch */
export function createAlertBanner(applyPatch) {
  const element = h("div", { class: "alert", role: "alert", testid: "alert", hidden: true });
  let dismissed = -1;
  let shownStep = "";
  return {
    element,
    /** Show the newest alert (unless the user dismissed it); a cleared one says the episode is over. */
    show(alerts, config, live) {
      const latest = alerts[alerts.length - 1];
      if (!latest || latest.step <= dismissed) { element.hidden = true; return; }
      const key = `${latest.step}:${JSON.stringify(config.tricks)}:${config.train.loss}`;
      if (key === shownStep && !element.hidden) return;
      shownStep = key;
      let tip = live && !latest.cleared ? suggestion(latest.kind, config) : null;
      if (tip && applied(tip[1], config)) tip = null; // already in effect: nothing to offer
      element.dataset.kind = latest.kind;
      element.classList.toggle("cleared", Boolean(latest.cleared));
      const raised = alerts.filter((a) => !a.cleared).length;
      element.replaceChildren(
        h("strong", {}, `${TITLES[latest.kind] || latest.kind}${latest.cleared ? " — cleared" : ""} (step ${latest.step})`),
        h("span", { class: "alert-text" }, latest.message),
        h("span", { class: "alert-actions" },
          tip ? h("button", { type: "button", class: "primary", testid: "alert-try",
            onclick: () => { applyPatch(tip[1]); element.hidden = true; dismissed = latest.step; } }, `Try: ${tip[0]}`) : null,
          h("button", { type: "button", onclick: () => { element.hidden = true; dismissed = latest.step; } }, "Dismiss"),
          raised > 1 ? h("span", { class: "muted small" }, `${raised} alerts so far`) : null));
      element.hidden = false;
    },
  };
}
