// A run's websocket that comes back by itself: after a network blip or a server restart it reconnects with
// exponential backoff (0.5 s doubling to 8 s), and the server's fresh snapshot replaces the view's state. Its
// messages are JSON text or binary frames, read by wire.js into the events the reducer applies.
import { streamUrl } from "./api.js";
import { timeDecode } from "./perf.js";
import { createReader } from "./wire.js";

const CLOSE_UNKNOWN_RUN = 4404;
const CLOSE_UNAUTHORISED = 4401; // retrying cannot help: the page needs ?token=
const CLOSE_FORBIDDEN = 4403; // nor here: on this server only the run's owner and instructors may watch it

/**
 * @param {string} runId
 * @param {{onEvent: (e: any) => void, onState: (state: "connecting"|"open"|"retrying"|"gone", detail?: string) => void}} handlers
 */
export function openStream(runId, { onEvent, onState }) {
  let ws = null;
  let delay = 500;
  let timer = 0;
  let closed = false;
  const outbox = [];

  function connect() {
    onState("connecting");
    ws = new WebSocket(streamUrl(runId));
    ws.binaryType = "arraybuffer"; // frames: typed arrays over the message's buffer (wire.js)
    const reader = createReader(); // per connection: a new snapshot brings the static parts again
    const read = timeDecode((data) => reader.read(data));
    ws.onopen = () => {
      delay = 500;
      onState("open");
      while (outbox.length) ws.send(outbox.shift());
    };
    ws.onmessage = (message) => {
      const event = read(message.data);
      if (event) onEvent(event);
    };
    ws.onclose = (event) => {
      if (closed) return;
      if (event.code === CLOSE_UNKNOWN_RUN || event.code === CLOSE_FORBIDDEN) { onState("gone", event.reason); return; }
      if (event.code === CLOSE_UNAUTHORISED) { onState("gone", `${event.reason}: open the page with ?token=…`); return; }
      onState("retrying", `reconnecting in ${(delay / 1000).toFixed(1)} s`);
      timer = setTimeout(connect, delay);
      delay = Math.min(delay * 2, 8000);
    };
    ws.onerror = () => {}; // onclose follows and schedules the retry
  }
  connect();

  return {
    /** Send a command (patch, pause, resume, stop); queued while reconnecting. */
    send(message) {
      const text = JSON.stringify(message);
      if (ws && ws.readyState === WebSocket.OPEN) ws.send(text);
      else outbox.push(text);
    },
    isOpen: () => !!ws && ws.readyState === WebSocket.OPEN,
    close() {
      closed = true;
      clearTimeout(timer);
      if (ws) ws.close();
    },
  };
}
