// The alert banner: what went wrong in words a newcomer can act on, and a one-click fix. The fix comes with the
// alert from the server, which makes it from the run's config, so it is always a patch the server accepts.
import { h } from "./dom.js";
import { alertTitle } from "./meta.js";

/** True when every leaf of a nested patch already has that value in the config. */
export function applied(patch, config) {
  return Object.entries(patch).every(([key, value]) => (value && typeof value === "object" && !Array.isArray(value)
    ? applied(value, (config || {})[key]) : JSON.stringify((config || {})[key]) === JSON.stringify(value)));
}

/** The fix to offer for an alert: its own, while the run is live, the alert still raised, and the fix not already
 * in effect (the user may have applied it by hand); otherwise null. */
export function offeredFix(alert, config, live) {
  if (!live || !alert || alert.cleared || !alert.fix) return null;
  return applied(alert.fix.patch, config) ? null : alert.fix;
}

/** @param {import("./meta.js").Meta} meta @param {(patch: any) => void} applyPatch */
export function createAlertBanner(meta, applyPatch) {
  const element = h("div", { class: "alert", role: "alert", testid: "alert", hidden: true });
  let dismissed = -1;
  let shownStep = "";
  return {
    element,
    /** Show the newest alert (unless the user dismissed it); a cleared one says the episode is over. */
    show(alerts, config, live) {
      const latest = alerts[alerts.length - 1];
      if (!latest || latest.step <= dismissed) { element.hidden = true; return; }
      const tip = offeredFix(latest, config, live);
      const key = `${alerts.length}:${latest.step}:${tip ? tip.label : ""}`;
      if (key === shownStep && !element.hidden) return;
      shownStep = key;
      element.dataset.kind = latest.kind;
      element.classList.toggle("cleared", Boolean(latest.cleared));
      const raised = alerts.filter((a) => !a.cleared).length;
      element.replaceChildren(
        h("strong", {}, `${alertTitle(meta, latest.kind)}${latest.cleared ? " — cleared" : ""} (step ${latest.step})`),
        h("span", { class: "alert-text" }, latest.message),
        h("span", { class: "alert-actions" },
          tip ? h("button", { type: "button", class: "primary", testid: "alert-try",
            onclick: () => { applyPatch(tip.patch); element.hidden = true; dismissed = latest.step; } }, `Try: ${tip.label}`) : null,
          h("button", { type: "button", onclick: () => { element.hidden = true; dismissed = latest.step; } }, "Dismiss"),
          raised > 1 ? h("span", { class: "muted small" }, `${raised} alerts so far`) : null));
      element.hidden = false;
    },
  };
}
