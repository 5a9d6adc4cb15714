// The start page's Sweeps section: the sweep lessons, each started with one button (POST /api/sweeps {lesson}), and
// the sweeps so far with their status and how many cells are done, each a link to its page (`?sweep=ID`).
import { api, apiPage } from "./api.js";
import { h, shortId } from "./dom.js";
import { cellOrder } from "./meta.js";
import { paramsLabel, progress } from "./sweepmath.js";

/**
 * @param {(state: any) => void} navigate
 * @param {import("./meta.js").Meta} meta
 */
export function createSweepList(navigate, meta) {
  const lessons = h("ul", { class: "lesson-list", testid: "sweep-lessons" });
  const list = h("ul", { class: "run-list", testid: "sweep-list" });
  const note = h("div", { class: "error", role: "alert", testid: "sweep-start-error" });
  let timer = 0;
  let stopped = false;

  async function start(name, button) {
    note.textContent = "";
    button.disabled = true;
    try {
      const sweep = await api("/api/sweeps", { method: "POST", json: { lesson: name } });
      navigate({ sweep: sweep.id });
    } catch (err) {
      note.textContent = `Could not start ${name}: ${err.message}`;
      button.disabled = false;
    }
  }

  function lessonItem(lesson) {
    const axes = lesson.axes.map((a) => `${a.path.split(".").pop()} × ${a.values.length}`).join(", ");
    const button = h("button", { type: "button", testid: `start-sweep-${lesson.name}`,
      "aria-label": `Start the sweep ${lesson.name} (${lesson.n_cells} runs)` }, "Start sweep");
    button.addEventListener("click", () => start(lesson.name, button));
    return h("li", { "data-lesson": lesson.name },
      h("div", { class: "row wrap" }, h("strong", {}, lesson.name), button),
      h("div", { class: "small" }, lesson.title),
      h("div", { class: "muted small" },
        `${lesson.n_cells} runs of ${lesson.preset}: ${axes}, ${lesson.seeds.length} seeds` +
        (lesson.watch.length ? ` · watch ${lesson.watch.join(", ")}` : "")),
      h("details", { class: "small" }, h("summary", {}, "What it shows"), h("p", {}, lesson.description)));
  }

  function sweepItem(sweep) {
    const { done, total, breakdown } = progress(sweep.counts, meta.statuses.final, cellOrder(meta));
    const axes = paramsLabel(Object.fromEntries(sweep.axes.map((a) => [a.path, `${a.values.length} values`])));
    return h("li", { "data-sweep-id": sweep.id },
      h("div", { class: "run-item" },
        h("a", { href: `?sweep=${sweep.id}`, onclick: (e) => { e.preventDefault(); navigate({ sweep: sweep.id }); } },
          sweep.lesson || sweep.preset || "custom", " ", h("code", {}, shortId(sweep.id))),
        h("span", { class: "status", "data-status": sweep.status }, sweep.status),
        h("span", { class: "muted small", testid: "sweep-cells", title: breakdown }, `${done}/${total} cells done`),
        axes ? h("span", { class: "metrics small" }, `${axes} × ${sweep.seeds.length} seeds`) : null));
  }

  async function refresh() {
    try {
      const { items, total } = await apiPage("/api/sweeps?limit=20");
      list.replaceChildren(...(items.length ? items.map(sweepItem) : [h("li", { class: "muted" }, "No sweeps yet.")]));
      if (total > items.length) list.append(h("li", { class: "muted small" }, `and ${total - items.length} older`));
    } catch (err) {
      list.replaceChildren(h("li", { class: "error" }, `Could not load sweeps: ${err.message}`));
    }
    if (!stopped) timer = setTimeout(refresh, 3000);
  }

  api("/api/sweeps/lessons")
    .then((all) => lessons.replaceChildren(...all.map(lessonItem)))
    .catch((err) => lessons.replaceChildren(h("li", { class: "error" }, `Could not load the sweep lessons: ${err.message}`)));
  refresh();

  const element = h("section", { class: "runs sweeps", testid: "sweeps" },
    h("h2", {}, "Sweeps"),
    h("p", { class: "muted small" }, "A sweep trains one preset over a grid of settings × seeds, each cell an ordinary run: "
      + "how sensitive a GAN is to its hyperparameters, measured."),
    lessons, note, h("h3", {}, "Your sweeps"), list);
  return { element, destroy() { stopped = true; clearTimeout(timer); } };
}
