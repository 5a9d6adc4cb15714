// Copies the browser builds of our npm dependencies into web/vendor, so the page is plain static ES modules
// served by the app (no bundler: nothing here would pay for one).
import { copyFileSync, mkdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const vendor = join(here, "vendor");
const files = [
  ["uplot/dist/uPlot.esm.js", "uPlot.esm.js"],
  ["uplot/dist/uPlot.min.css", "uPlot.min.css"],
];
mkdirSync(vendor, { recursive: true });
for (const [from, to] of files) copyFileSync(join(here, "node_modules", from), join(vendor, to));
console.log(`web/vendor: ${files.map(([, to]) => to).join(", ")}`);
