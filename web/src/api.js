// REST calls to the ganplay server. One place adds the token (when the user gave one) and turns error bodies
// ({detail: [{field, reason}]} or {detail: "text"}) into an ApiError the views can show next to a field.

/** @typedef {{field: string, reason: string}} FieldError */

export class ApiError extends Error {
  /** @param {number} status @param {FieldError[]} errors */
  constructor(status, errors) {
    super(errors.map((e) => `${e.field}: ${e.reason}`).join("; ") || `HTTP ${status}`);
    this.status = status;
    this.errors = errors;
  }
}

/** The token from ?token= (kept in localStorage, then dropped from the address bar) or an earlier visit. */
export function token() {
  const url = new URL(location.href);
  const given = url.searchParams.get("token");
  if (given) {
    localStorage.setItem("ganplayToken", given);
    url.searchParams.delete("token");
    history.replaceState(history.state, "", url);
  }
  return localStorage.getItem("ganplayToken") || "";
}

/** @param {string} path @param {RequestInit & {json?: unknown}} [init] */
export async function api(path, init = {}) {
  return (await request(path, init)).data;
}

/** A page of a list route with the size of the whole list (its X-Total-Count header). @param {string} path */
export async function apiPage(path) {
  const { data, response } = await request(path);
  return { items: data, total: Number(response.headers.get("X-Total-Count") ?? data.length) };
}

/** A binary answer (a PNG) as a Blob, with the response's headers. @param {string} path @param {AbortSignal} [signal] */
export async function apiBlob(path, signal) {
  const response = await fetch(path, { headers: authHeaders(), signal });
  if (!response.ok) throw new ApiError(response.status, [{ field: "request", reason: response.statusText }]);
  return { blob: await response.blob(), headers: response.headers };
}

function authHeaders(init) {
  const headers = new Headers(init);
  const secret = token();
  if (secret) headers.set("Authorization", `Bearer ${secret}`);
  return headers;
}

/** @param {string} path @param {RequestInit & {json?: unknown}} [init] */
async function request(path, init = {}) {
  const headers = authHeaders(init.headers);
  let body = init.body;
  if (init.json !== undefined) {
    headers.set("Content-Type", "application/json");
    body = JSON.stringify(init.json);
  }
  const response = await fetch(path, { ...init, headers, body });
  if (response.status === 204) return { data: null, response };
  const text = await response.text();
  const data = text ? JSON.parse(text) : null;
  if (!response.ok) {
    const detail = data && data.detail;
    const errors = Array.isArray(detail)
      ? detail.map((d) => ({ field: d.field ?? (d.loc || []).join("."), reason: d.reason ?? d.msg ?? String(d) }))
      : [{ field: "request", reason: typeof detail === "string" ? detail : response.statusText }];
    throw new ApiError(response.status, errors);
  }
  return { data, response };
}

/** The websocket URL of a run's stream, with the token as a query parameter (browsers cannot set headers). */
export function streamUrl(runId) {
  const scheme = location.protocol === "https:" ? "wss:" : "ws:";
  const secret = token();
  return `${scheme}//${location.host}/api/runs/${runId}/stream${secret ? `?token=${encodeURIComponent(secret)}` : ""}`;
}
