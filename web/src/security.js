// The Security panel: signed-frame verification as /api/security reports it (polled).
import { countList } from "./devices.js";

const fmt = (n) => Number(n ?? 0).toLocaleString();

/** Render one /api/security document into the panel's elements. */
export function renderSecurity(doc) {
  const state = document.getElementById("security-state");
  const panel = document.getElementById("security-panel");
  if (!doc.enabled) {
    state.textContent = "not verifying (serve --pki DIR, demo --signed)";
    state.className = "muted";
    panel.classList.add("empty");
    return;
  }
  panel.classList.remove("empty");
  const refused = doc.rejected_total ?? 0;
  state.textContent = refused ? `verifying · ${fmt(refused)} refused` : "verifying · none refused";
  state.className = refused ? "bad" : "good";
  document.getElementById("security-verified").textContent =
    `${fmt(doc.verified)} verified · ${Number(doc.verified_per_s ?? 0).toFixed(1)}/s`;
  document.getElementById("security-refused-rate").textContent =
    `${fmt(refused)} refused · ${Number(doc.rejected_per_s ?? 0).toFixed(1)}/s`;
  countList(document.getElementById("security-profiles"), doc.by_profile, 4);
  countList(document.getElementById("security-rejected"), doc.rejected, 12);
  const trust = doc.trust ?? {};
  document.getElementById("security-trust").textContent =
    `certificates: ${fmt(trust.trust_list)} trusted, ${fmt(trust.cached)} cached, ` +
    `${fmt(trust.revoked)} revoked · replay window ${fmt(doc.replay?.remembered)}`;
  const signed = Object.entries(doc.platform_signed ?? {}).map(([k, n]) => `${k} ${fmt(n)}`);
  document.getElementById("security-signed").textContent = doc.platform_signed == null
    ? "platform does not sign its down-link"
    : `platform signed: ${signed.join(", ") || "nothing yet"}`;
}
