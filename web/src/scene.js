// The scene as the dashboard knows it, plus a replayable buffer of recent frames.
const STALE_MS = 5000;
const BUFFER_FRAMES = 3000; // 5 minutes at 10 Hz
const RECENT_ADVISORIES = 200;

export class Scene {
  constructor() {
    this.participants = new Map();
    this.advisories = []; // in force now
    this.recentAdvisories = []; // everything received lately, newest last, for the list
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
    this.recentAdvisories.push(...frame.advisories);
    if (this.recentAdvisories.length > RECENT_ADVISORIES) {
      this.recentAdvisories.splice(0, this.recentAdvisories.length - RECENT_ADVISORIES);
    }
    for (const e of frame.events) this.events.set(e.event_id, e);
    for (const s of frame.signals) this.signals.set(`${s.node[0] ?? ""}/${s.node[1]}`, s);
    if (frame.stats) this.stats = frame.stats;
    this.history.push(this.snapshot());
    if (this.history.length > BUFFER_FRAMES) this.history.shift();
  }

  snapshot() {
    return {
      nowMs: this.nowMs,
      participants: [...this.participants.values()],
      advisories: this.advisories.slice(),
      recentAdvisories: this.recentAdvisories.slice(-50),
      signals: new Map(this.signals),
    };
  }
}
