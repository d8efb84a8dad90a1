// REST and WebSocket access with the optional token (#token=... in the URL, kept per tab).
const hashToken = new URLSearchParams(location.hash.slice(1)).get("token");
if (hashToken) sessionStorage.setItem("v2xcloud-token", hashToken);
const token = sessionStorage.getItem("v2xcloud-token");

export async function getJson(path) {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const response = await fetch(path, { headers });
  if (!response.ok) throw new Error(`${path}: HTTP ${response.status}`);
  return response.json();
}

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
