// REST and WebSocket access with the optional token (#token=… in the URL, also after a route:
// #/live?token=…; kept per tab).
const hashToken = /[#?&]token=([^&]+)/.exec(location.hash)?.[1];
if (hashToken) sessionStorage.setItem("v2xcloud-token", decodeURIComponent(hashToken));
const token = sessionStorage.getItem("v2xcloud-token");

const authHeaders = () => (token ? { Authorization: `Bearer ${token}` } : {});

/** An HTTP error with the status and the API's detail, when it gave one. */
export class ApiError extends Error {
  constructor(path, status, detail) {
    super(`${path}: HTTP ${status}${detail ? ` ${detail}` : ""}`);
    this.status = status;
    this.detail = detail;
  }
}

async function answer(path, response) {
  if (!response.ok) {
    let detail = "";
    try {
      const body = await response.json();
      detail = typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail ?? body);
    } catch { /* not JSON: the status says enough */ }
    throw new ApiError(path, response.status, detail);
  }
  return response.status === 204 ? null : response.json();
}

export async function getJson(path) {
  return answer(path, await fetch(path, { headers: authHeaders() }));
}

/** A download (text) with the credential: ``{text, filename}`` (the server's
 * Content-Disposition name, else ``fallback``). */
export async function getText(path, fallback = "download.txt") {
  const response = await fetch(path, { headers: authHeaders() });
  if (!response.ok) await answer(path, response); // throws the ApiError
  const named = /filename="([^"]+)"/.exec(response.headers.get("content-disposition") ?? "");
  return { text: await response.text(), filename: named?.[1] ?? fallback };
}

/** Send ``body`` as JSON with ``method`` (POST, PATCH, PUT, DELETE); the decoded answer. */
export async function sendJson(method, path, body) {
  const response = await fetch(path, {
    method, headers: { ...authHeaders(), "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  return answer(path, response);
}

export const postJson = (path, body) => sendJson("POST", path, body);

export function openStream(onFrame, onStatus) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const query = token ? `?token=${encodeURIComponent(token)}` : "";
  const decoder = new TextDecoder();
  let retryMs = 500;
  const connect = () => {
    const ws = new WebSocket(`${scheme}://${location.host}/api/stream${query}`);
    ws.binaryType = "arraybuffer";
    ws.onopen = () => { retryMs = 500; onStatus(true); };
    ws.onmessage = (event) => {
      const text = typeof event.data === "string" ? event.data : decoder.decode(event.data);
      onFrame(JSON.parse(text));
    };
    ws.onclose = () => {
      onStatus(false);
      setTimeout(connect, retryMs);
      retryMs = Math.min(retryMs * 2, 10000);
    };
  };
  connect();
}
