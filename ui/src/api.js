// The REST API as the dashboard uses it: one fetch wrapper (token, Part 2 Result errors) and
// Server-Sent Events read over fetch, so a token travels with the stream too (EventSource cannot
// send an Authorization header).

const meta = document.querySelector('meta[name="twinbridge-api"]');
export const API = meta && !meta.content.startsWith("%") ? meta.content : "/api/v3.0";

const TOKEN_KEY = "twinbridge-token";
const tokenListeners = new Set();

export function getToken() {
  return sessionStorage.getItem(TOKEN_KEY) || "";
}

export function setToken(token) {
  if (token) sessionStorage.setItem(TOKEN_KEY, token);
  else sessionStorage.removeItem(TOKEN_KEY);
  tokenListeners.forEach((listener) => listener(getToken()));
}

export function onToken(listener) {
  tokenListeners.add(listener);
  return () => tokenListeners.delete(listener);
}

/** Unpadded base64url of an identifier (Part 2 encodes ids in paths this way). */
export function b64(id) {
  const bytes = new TextEncoder().encode(id);
  let binary = "";
  bytes.forEach((byte) => { binary += String.fromCharCode(byte); });
  return btoa(binary).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function unb64(text) {
  const padded = text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4);
  const binary = atob(padded);
  return new TextDecoder().decode(Uint8Array.from(binary, (c) => c.charCodeAt(0)));
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

function headers(extra) {
  const token = getToken();
  return token ? { ...extra, Authorization: `Bearer ${token}` } : { ...extra };
}

/** The server's own words for a failed request: the first message of its Part 2 Result. */
async function failure(response) {
  let text = `${response.status} ${response.statusText}`;
  try {
    const body = await response.json();
    const message = body.messages && body.messages[0];
    if (message && message.text) text = message.text;
    else if (body.detail) text = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail);
  } catch (_) { /* not JSON: keep the status line */ }
  return new ApiError(response.status, text);
}

export async function request(path, { method = "GET", body, signal } = {}) {
  const init = { method, headers: headers(body === undefined ? {} : { "Content-Type": "application/json" }), signal };
  if (body !== undefined) init.body = JSON.stringify(body);
  const response = await fetch(API + path, init);
  if (!response.ok) throw await failure(response);
  if (response.status === 204) return null;
  return response.json();
}

/**
 * Follows GET /events with `query`; calls onEvent(cloudEvent) per event and onState("live" |
 * "reconnecting" | message) as the connection changes. Reconnects after 2 s (the server's retry).
 * Returns the function that stops it.
 */
export function subscribe(query, onEvent, onState = () => {}) {
  let stopped = false;
  let controller = null;
  (async () => {
    while (!stopped) {
      controller = new AbortController();
      try {
        const response = await fetch(`${API}/events?${query}`, { headers: headers({}), signal: controller.signal });
        if (!response.ok) throw await failure(response);
        onState("live");
        const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffer = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffer += value;
          let end;
          while ((end = buffer.indexOf("\n\n")) >= 0) {
            const frame = buffer.slice(0, end);
            buffer = buffer.slice(end + 2);
            const data = frame.split("\n").filter((line) => line.startsWith("data:"))
              .map((line) => line.slice(5).trimStart()).join("\n");
            if (data && data !== "{}") onEvent(JSON.parse(data));
          }
        }
      } catch (error) {
        if (stopped) return;
        onState(error instanceof ApiError ? error.message : "reconnecting");
      }
      if (!stopped) {
        onState("reconnecting");
        await new Promise((resolve) => setTimeout(resolve, 2000));
      }
    }
  })();
  return () => {
    stopped = true;
    if (controller) controller.abort();
  };
}

const SOURCE = /\/submodels\/([^/]+)\/submodel-elements\/(.+)$/;

/** "b64 submodel id|idShortPath" of a valueChanged event: the key live maps use. */
export function eventKey(event) {
  const match = SOURCE.exec(event.source || "");
  return match ? `${match[1]}|${match[2]}` : null;
}
