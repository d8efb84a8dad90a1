// v2xcloud operator console: the header (navigation, clock, connection, language), the hash
// router over the views of views/index.js, and the one tick stream the views share.
import { getJson, openStream, postJson, sendJson } from "./api.js";
import { addMessages, formatTime, language, missingKeys, onLanguage, setLanguage, setTimeZone, t, translate, zone } from "./i18n.js";
import common from "./i18n/common.js";
import { Router } from "./router.js";
import { VIEWS } from "./views/index.js";

addMessages(common);

// The tick stream, opened once; views subscribe to its frames and to the connection state.
const frameListeners = new Set();
const statusListeners = new Set();
const shell = { connected: false, droppedFrames: 0, nowMs: null, lastTickAt: 0 };
const QUIET_MS = 3000; // connected, but no tick for this long: not "live"

const stream = {
  /** ``fn(frame)`` for every frame; returns the function that stops it. */
  subscribe(fn) { frameListeners.add(fn); return () => frameListeners.delete(fn); },
  /** ``fn(connected)`` on every (re)connection and loss; returns the function that stops it. */
  onStatus(fn) { statusListeners.add(fn); return () => statusListeners.delete(fn); },
  get connected() { return shell.connected; },
};

function renderHeader() {
  const conn = document.getElementById("conn");
  const ticking = performance.now() - shell.lastTickAt < QUIET_MS;
  conn.textContent = !shell.connected ? t("common.reconnecting") : ticking ? t("common.live") : t("common.no_ticks");
  conn.className = !shell.connected ? "bad" : ticking ? "good" : "conn-idle";
  if (shell.nowMs != null) document.getElementById("clock").textContent = formatTime(shell.nowMs);
  document.getElementById("drops").textContent = shell.droppedFrames
    ? t("common.frames_dropped", { n: shell.droppedFrames }) : "";
  for (const b of document.querySelectorAll("#lang button")) b.classList.toggle("on", b.dataset.lang === language());
}

function onFrame(frame) {
  if (frame.type === "drops") shell.droppedFrames = frame.dropped_frames;
  if (frame.type === "tick") { shell.nowMs = frame.now_ms; shell.lastTickAt = performance.now(); }
  for (const fn of frameListeners) {
    try { fn(frame); } catch (error) { console.error("stream listener:", error); }
  }
}

function onStatus(connected) {
  shell.connected = connected;
  renderHeader();
  for (const fn of statusListeners) {
    try { fn(connected); } catch (error) { console.error("stream status listener:", error); }
  }
}

/** The district's time zone, when the platform names one (else the browser's stays). */
async function loadConsoleSettings() {
  try {
    const settings = await getJson("/api/console");
    setTimeZone(settings.time_zone ?? null);
  } catch (error) {
    console.warn(`console settings: ${error.message}; times in the browser's zone`);
  }
}

const router = new Router({ // adds every view's messages
  views: VIEWS,
  nav: document.getElementById("nav"),
  outlet: document.getElementById("outlet"),
  ctx: { getJson, postJson, sendJson, stream },
});

for (const b of document.querySelectorAll("#lang button")) {
  b.addEventListener("click", () => setLanguage(b.dataset.lang));
}
onLanguage(renderHeader);
translate(document);
renderHeader();
setInterval(renderHeader, 1000);

// Hooks for the browser tests and for operators poking at the console (views add theirs).
window.v2x = {
  ready: false, router, views: Object.fromEntries(VIEWS.map((v) => [v.id, v])),
  i18n: { language, setLanguage, missingKeys, zone },
};

await loadConsoleSettings();
router.start();
openStream(onFrame, onStatus);
