// A run's metric history, columnar (as uPlot wants it): steps plus one column per metric, loaded from the
// snapshot and grown by live rows. Long runs are thinned (every other point dropped) past MAX_POINTS so a
// redraw stays cheap however long the run trains.

export const MAX_POINTS = 8000;

export class MetricStore {
  constructor() {
    /** @type {number[]} */
    this.steps = [];
    /** @type {Map<string, (number|null)[]>} */
    this.columns = new Map();
    /** @type {{step: number, changes: Record<string, unknown>}[]} */
    this.changes = [];
    this.version = 0; // bumped on every change, so views redraw only when something is new
  }

  /** Replace everything with the snapshot's columnar history {steps, series} and change log. */
  load(history, changes) {
    this.steps = history.steps.slice();
    this.columns = new Map(Object.entries(history.series).map(([k, v]) => [k, v.slice()]));
    this.changes = changes.slice();
    this.version++;
  }

  /** Append live rows ({step, name: value, ...}); a metric seen for the first time gets a column of nulls. */
  append(rows) {
    const last = this.steps.length ? this.steps[this.steps.length - 1] : -Infinity;
    for (const row of rows) {
      if (row.step <= last && this.steps.length) continue; // already in the snapshot
      for (const name of Object.keys(row)) {
        if (name !== "step" && !this.columns.has(name)) this.columns.set(name, new Array(this.steps.length).fill(null));
      }
      this.steps.push(row.step);
      for (const [name, column] of this.columns) {
        const value = row[name];
        column.push(typeof value === "number" && Number.isFinite(value) ? value : null);
      }
    }
    if (this.steps.length > MAX_POINTS) this.thin();
    this.version++;
  }

  /** Drop every other point but keep the newest, and keep sparse metrics (quality) wherever they have values. */
  thin() {
    const keep = this.steps.map((_, i) => i % 2 === 0 || i === this.steps.length - 1);
    for (const column of this.columns.values()) {
      const sparse = column.filter((v) => v !== null).length < column.length / 4;
      if (sparse) column.forEach((v, i) => { if (v !== null) keep[i] = true; });
    }
    this.steps = this.steps.filter((_, i) => keep[i]);
    for (const [name, column] of this.columns) this.columns.set(name, column.filter((_, i) => keep[i]));
  }

  addChange(step, changes) {
    this.changes.push({ step, changes });
    this.version++;
  }

  has(name) {
    return this.columns.has(name) && this.columns.get(name).some((v) => v !== null);
  }

  last(name) {
    const column = this.columns.get(name);
    if (!column) return null;
    for (let i = column.length - 1; i >= 0; i--) if (column[i] !== null) return column[i];
    return null;
  }
}
