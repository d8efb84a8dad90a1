// The scene as the dashboard knows it, plus a replayable buffer of recent frames.
const STALE_MS = 5000;
const BUFFER_FRAMES = 3000; // 5 minutes at 10 Hz
const eventKey = (e) => `${e.source}/${e.event_id}`;

export class Scene {
  constructor() {
    this.participants = new Map();
    this.advisories = []; // in force now
    this.events = new Map();
    this.signals = new Map();
    this.stats = null;
    this.nowMs = 0;
    this.history = []; // [{nowMs, participants: [...], advisories: [...], signals}]
  }

  apply(frame) {
    this.nowMs = frame.now_ms;
    for (const p of frame.participants) this.participants.set(p.id, p);
    for (const id of frame.removed_ids) this.participants.delete(id);
    for (const [id, p] of this.participants) {
      if (this.nowMs - p.timestamp_ms > STALE_MS) this.participants.delete(id); // removals may be lost to drops
    }
    this.advisories = this.advisories.filter((a) => a.expires_ms >= this.nowMs).concat(frame.advisories);
    for (const e of frame.events) this.events.set(eventKey(e), e);
    for (const s of frame.signals) this.signals.set(`${s.node[0] ?? ""}/${s.node[1]}`, s);
    if (frame.stats) this.stats = frame.stats;
    this.history.push(this.snapshot());
    if (this.history.length > BUFFER_FRAMES) this.history.shift();
  }

  /** Replace the events with the set in force the API gave (events end without a frame saying
   * so: the poll is what removes them). */
  setEvents(events) {
    this.events = new Map(events.map((e) => [eventKey(e), e]));
  }

  /** Drop events whose end time has passed. */
  pruneEvents() {
    for (const [key, e] of this.events) if (e.end_ms != null && e.end_ms <= this.nowMs) this.events.delete(key);
  }

  snapshot() {
    return {
      nowMs: this.nowMs,
      participants: [...this.participants.values()],
      advisories: this.advisories.slice(),
      signals: new Map(this.signals),
    };
  }
}
