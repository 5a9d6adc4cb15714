// Draw-your-own 2D distribution: drag on the canvas to spray points (a brush of jittered points), in the unit
// square [-1, 1]², the range ganplay scales 2D data to.
import { h } from "./dom.js";

const SIZE = 280;
const BRUSH = 0.035; // brush radius in data units
const PER_MOVE = 3; // points sprayed per pointer event

export function createDrawPad() {
  /** @type {[number, number][]} */
  const points = [];
  const canvas = h("canvas", { width: SIZE, height: SIZE, class: "drawpad", testid: "draw-pad",
    "aria-label": "Drawing area: drag to add data points" });
  const count = h("span", { class: "muted" }, "0 points");
  const ctx = canvas.getContext("2d");
  let seed = 1;
  const random = () => ((seed = (seed * 16807) % 2147483647) / 2147483647); // repeatable jitter

  function render() {
    ctx.fillStyle = "#fbfbfd";
    ctx.fillRect(0, 0, SIZE, SIZE);
    ctx.strokeStyle = "#e3e3ea";
    ctx.beginPath();
    ctx.moveTo(SIZE / 2, 0); ctx.lineTo(SIZE / 2, SIZE); ctx.moveTo(0, SIZE / 2); ctx.lineTo(SIZE, SIZE / 2);
    ctx.stroke();
    ctx.fillStyle = "#1b7f4b";
    for (const [x, y] of points) ctx.fillRect((x + 1) / 2 * SIZE - 1.5, (1 - y) / 2 * SIZE - 1.5, 3, 3);
    count.textContent = `${points.length} points`;
  }

  function spray(event) {
    const box = canvas.getBoundingClientRect();
    const cx = ((event.clientX - box.left) / box.width) * 2 - 1;
    const cy = 1 - ((event.clientY - box.top) / box.height) * 2;
    for (let i = 0; i < PER_MOVE && points.length < 10000; i++) {
      const angle = random() * 2 * Math.PI;
      const r = BRUSH * Math.sqrt(random());
      const x = Math.max(-1, Math.min(1, cx + r * Math.cos(angle)));
      const y = Math.max(-1, Math.min(1, cy + r * Math.sin(angle)));
      points.push([+x.toFixed(4), +y.toFixed(4)]);
    }
    render();
  }

  canvas.addEventListener("pointerdown", (e) => { canvas.setPointerCapture(e.pointerId); spray(e); });
  canvas.addEventListener("pointermove", (e) => { if (e.buttons) spray(e); });
  const clear = h("button", { type: "button", onclick: () => { points.length = 0; render(); } }, "Clear");
  render();
  const element = h("div", { class: "draw" }, canvas, h("div", { class: "row" }, count, clear));
  /** Show given points (a fork of a drawn run starts from its drawing). */
  const setPoints = (given) => { points.splice(0, points.length, ...given); render(); };
  return { element, points: () => points.slice(), setPoints };
}
