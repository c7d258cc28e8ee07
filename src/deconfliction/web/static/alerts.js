// The alerts panel: live from /events, filtered by severity, rule and state; a click flies
// the map to the alert and rings its units or site; new critical alerts flash the bar.

import { post } from "./api.js";
import { state, cop, el, fmtTime, partyName } from "./state.js";
import { map, unitLayer, highlightSite } from "./maplayers.js";

const RANK = { low: 0, medium: 1, high: 2, critical: 3 };
const RULES = [
  "line.approach", "zone.violation", "site.threat", "force.massing", "defence.weakened",
  "defence.outnumbered", "hotline.unacknowledged", "notification.conflict",
];

const list = document.getElementById("alerts");
const fSeverity = document.getElementById("f-severity");
const fRule = document.getElementById("f-rule");
const fState = document.getElementById("f-state");
const cue = document.getElementById("critical-cue");
const bar = document.getElementById("bar");
const freshIds = new Set();
let onConcern = () => {};

for (const rule of RULES) fRule.append(el("option", { value: rule }, rule));
for (const select of [fSeverity, fRule]) select.addEventListener("change", renderAlerts);
let onStateFilter = () => {};
fState.addEventListener("change", () => {
  onStateFilter(fState.value);
  renderAlerts();
});

/** Called with the state filter's value; the app loads resolved alerts on demand. */
export function setStateFilterHandler(handler) {
  onStateFilter = handler;
}

export function setConcernHandler(handler) {
  onConcern = handler;
}

/** Merge an alert (a stored Alert or a live AlertEvent) into the picture's alerts. */
export function mergeAlert(data, eventKind) {
  const previous = state.alerts.get(data.id) || {};
  const merged = { ...previous, ...data };
  delete merged.event;
  if (eventKind === "resolved") merged.state = "resolved";
  else if (eventKind === "open" || eventKind === "updated") merged.state = "open";
  if (eventKind === "open") merged.opened = merged.opened || data.time;
  merged.updated = data.time || merged.updated;
  state.alerts.set(data.id, merged);
  return merged;
}

export function noteLive(alert, eventKind) {
  if (eventKind !== "open" && eventKind !== "updated") return;
  freshIds.add(alert.id);
  setTimeout(() => freshIds.delete(alert.id), 4000);
  const wasCritical = eventKind === "updated" && alert._cued;
  if (alert.severity === "critical" && !wasCritical) {
    alert._cued = true;
    cop.criticalCue += 1;
    cue.textContent = `CRITICAL · ${alert.message}`;
    cue.hidden = false;
    cue.onclick = () => selectAlert(alert.id);
    bar.classList.remove("flash");
    void bar.offsetWidth; // restart the animation for a second critical in a row
    bar.classList.add("flash");
  }
}

function visible(alert) {
  const sev = fSeverity.value;
  if (sev === "critical" && alert.severity !== "critical") return false;
  if (sev && RANK[alert.severity] < RANK[sev]) return false;
  if (fRule.value && alert.rule !== fRule.value) return false;
  if (fState.value && (alert.state || "open") !== fState.value) return false;
  return true;
}

function figures(alert) {
  const bits = [];
  if (alert.units && alert.units.length) bits.push(`${alert.units.length} unit${alert.units.length > 1 ? "s" : ""}`);
  if (alert.site) bits.push(`site ${alert.site}`);
  if (alert.line) bits.push(`line ${alert.line}`);
  if (alert.crossing) bits.push(`crossed ${fmtTime(alert.crossing.time)}`);
  if (typeof alert.lat === "number") bits.push(`${alert.lat.toFixed(3)}, ${alert.lon.toFixed(3)}`);
  return bits.join(" · ");
}

const LIST_LIMIT = 200;
let renderQueued = false;

/** Re-render on the next frame: a burst of events costs one render, not one each. */
export function renderAlerts() {
  if (renderQueued) return;
  renderQueued = true;
  requestAnimationFrame(() => {
    renderQueued = false;
    renderNow();
  });
}

function renderNow() {
  const matching = [...state.alerts.values()].filter(visible);
  const alerts = matching.sort((a, b) =>
    (a.state === "resolved") - (b.state === "resolved")
    || RANK[b.severity] - RANK[a.severity]
    || String(b.updated || b.time).localeCompare(String(a.updated || a.time)));
  const shown = alerts.slice(0, LIST_LIMIT);
  const more = alerts.length - shown.length;
  list.replaceChildren(...shown.map((alert) => {
    const acked = alert.acknowledged_at || alert.acked_at;
    const item = el("li", {
      class: `sev-${alert.severity} ${alert.state === "resolved" ? "resolved" : ""} ${freshIds.has(alert.id) ? "fresh" : ""} ${cop.selectedAlert === alert.id ? "selected" : ""}`,
      dataset: { id: alert.id, rule: alert.rule, severity: alert.severity, units: (alert.units || []).join(" ") },
      onclick: () => selectAlert(alert.id),
    },
    el("div", { class: "meta" },
      el("span", { class: "sev" }, alert.severity),
      el("span", {}, alert.rule),
      el("span", {}, fmtTime(alert.updated || alert.time)),
      el("span", {}, alert.id)),
    el("div", { class: "msg" }, alert.message),
    el("div", { class: "figures" }, figures(alert)),
    acked ? el("div", { class: "acked" }, `acknowledged by ${alert.acknowledged_by || alert.acked_by || "?"} at ${fmtTime(acked)}`) : null,
    el("div", { class: "actions" },
      !acked && state.role !== "viewer" ? el("button", {
        type: "button", class: "ack",
        onclick: (event) => { event.stopPropagation(); acknowledge(alert.id, event.target); },
      }, "Acknowledge") : null,
      state.role !== "viewer" && alert.rule !== "hotline.unacknowledged" && alert.rule !== "notification.conflict"
        ? el("button", {
          type: "button", class: "concern",
          onclick: (event) => { event.stopPropagation(); onConcern(alert); },
        }, "Raise on hotline") : null));
    return item;
  }), more > 0 ? el("li", { class: "more" }, `${more} more; narrow the filters to see them`) : "");
  let open = 0;
  for (const a of state.alerts.values()) if (a.state !== "resolved") open += 1;
  document.getElementById("alert-count").textContent = String(open);
  cop.alerts = [...state.alerts.keys()];
  cop.openAlerts = open;
  cop.alertsListed = shown.length;
}

async function acknowledge(id, button) {
  button.disabled = true;
  try {
    const answer = await post(`/alerts/${encodeURIComponent(id)}/ack`, {});
    const alert = state.alerts.get(id);
    Object.assign(alert, answer && typeof answer === "object" ? answer : {});
    if (!alert.acknowledged_at) alert.acknowledged_at = new Date().toISOString();
    if (!alert.acknowledged_by) alert.acknowledged_by = state.party;
  } catch (error) {
    button.disabled = false;
    button.textContent = `Ack failed: ${error.status || ""}`;
    return;
  }
  renderAlerts();
}

export function selectAlert(id) {
  const alert = state.alerts.get(id);
  if (!alert) return;
  cop.selectedAlert = id;
  let target = null;
  if (typeof alert.lat === "number" && typeof alert.lon === "number") target = [alert.lat, alert.lon];
  if (!target && alert.site) {
    const site = state.sites.find((s) => s.id === alert.site);
    if (site) target = [site.lat, site.lon];
  }
  const members = state.units.filter((unit) => (alert.units || []).includes(unit.id));
  if (!target && members.length) target = [members[0].lat, members[0].lon];
  unitLayer.setHighlight(alert.units || []);
  highlightSite(alert.site);
  if (target) {
    const zoom = Math.max(map.getZoom(), 11);
    cop.lastFly = { alert: id, lat: target[0], lon: target[1], zoom };
    map.flyTo(target, zoom, { duration: 0.8 });
  }
  renderAlerts();
}

export { RULES };
export const partyLabel = partyName;
