// What the header says about the Ray cluster a server trains on (GANPLAY_EXECUTOR=ray), from GET /api/health's
// `cluster`: its nodes and free room while connected; while the link is lost, that runs on it were interrupted and
// that the server is reconnecting by itself. A server with the local executor has no cluster: nothing is shown.

/** How often the header asks again: often enough to catch a lost link that the server repairs within seconds. */
export const CLUSTER_POLL_MS = 2000;

const amount = (x) => (Number.isInteger(x) ? String(x) : x.toFixed(1));
const count = (x, one) => `${amount(x)} ${x === 1 ? one : `${one}s`}`;

/**
 * @param {{connected: boolean, error: string|null, address: string, nodes: {alive: boolean, cpus: number,
 *   gpus: number}[], free_cpus: number|null, free_gpus: number|null,
 *   last_lost?: {at: number, error: string, interrupted: number} | null} | null | undefined} cluster
 * @returns {{state: "connected"|"connecting"|"lost", text: string} | null} null: no cluster to speak of
 */
export function clusterSummary(cluster) {
  if (!cluster) return null;
  if (!cluster.connected && (!cluster.error || cluster.error === "connecting")) {
    return { state: "connecting", text: `Ray cluster: connecting to ${cluster.address}…` };
  }
  if (!cluster.connected) {
    const why = ` (${cluster.error})`;
    return {
      state: "lost",
      text: `Ray cluster unreachable${why}: runs that were training on it are interrupted (resume them once it is `
        + "back); the server is reconnecting",
    };
  }
  const alive = cluster.nodes.filter((node) => node.alive && (node.cpus > 0 || node.gpus > 0));
  const room = [count(cluster.free_cpus ?? 0, "free CPU")];
  if (alive.some((node) => node.gpus > 0)) room.push(count(cluster.free_gpus ?? 0, "free GPU"));
  const text = `Ray cluster: ${count(alive.length, "training node")}, ${room.join(", ")}`;
  return { state: "connected", text: cluster.last_lost ? `${text} · ${lossNote(cluster.last_lost)}` : text };
}

/** A past loss of the link, for whoever was not looking then. @param {{at: number, error: string, interrupted: number}} loss */
function lossNote(loss) {
  const when = new Date(loss.at * 1000).toLocaleTimeString();
  const runs = loss.interrupted ? `, ${count(loss.interrupted, "run")} interrupted (resume them)` : "";
  return `reconnected after losing it at ${when} (${loss.error})${runs}`;
}
