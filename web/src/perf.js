// Frame-handling cost, measured in the page: time spent decoding websocket messages and in their handlers plus
// the requestAnimationFrame render that applies them, averaged per rendered frame. Exposed as window.ganplayPerf
// (decodeMs, the decoding alone, is also counted in handlerMs).

const perf = { frames: 0, messages: 0, handlerMs: 0, decodeMs: 0, renderMs: 0, maxFrameMs: 0, pendingMs: 0,
  get avgFrameMs() { return this.frames ? (this.handlerMs + this.renderMs) / this.frames : 0; },
  reset() {
    Object.assign(this, { frames: 0, messages: 0, handlerMs: 0, decodeMs: 0, renderMs: 0, maxFrameMs: 0, pendingMs: 0 });
  } };
window.ganplayPerf = perf;

/** Time a websocket handler. */
export function timeHandler(fn) {
  return (event) => {
    const t0 = performance.now();
    try { fn(event); } finally {
      const dt = performance.now() - t0;
      perf.messages++; perf.handlerMs += dt; perf.pendingMs += dt;
    }
  };
}

/** Time a websocket message's decoding (before its handler, which `timeHandler` times). */
export function timeDecode(fn) {
  return (data) => {
    const t0 = performance.now();
    try { return fn(data); } finally {
      const dt = performance.now() - t0;
      perf.decodeMs += dt; perf.handlerMs += dt; perf.pendingMs += dt;
    }
  };
}

/** A render scheduled once per animation frame, however many messages asked for it. */
export function frameScheduler(render) {
  let queued = false;
  return () => {
    if (queued) return;
    queued = true;
    requestAnimationFrame(() => {
      queued = false;
      const t0 = performance.now();
      try { render(); } finally {
        const dt = performance.now() - t0;
        perf.frames++; perf.renderMs += dt;
        perf.maxFrameMs = Math.max(perf.maxFrameMs, dt + perf.pendingMs);
        perf.pendingMs = 0;
      }
    });
  };
}
