// The hotline console: inbox and outbox with due-time countdowns, a message's thread and
// (for a received notification) its conflicts, acknowledge and respond, compose — a
// concern from an alert in one click, or a notification with an area drawn on the map.

import { get, post, getAll } from "./api.js";
import { state, cop, el, fmtTime, partyName } from "./state.js";
import { map, drawNotifications } from "./maplayers.js";

const list = document.getElementById("messages");
const detail = document.getElementById("message-detail");
const form = document.getElementById("compose");
const composeError = document.getElementById("compose-error");
const areaState = document.getElementById("area-state");
const drawHint = document.getElementById("draw-hint");
let box = "inbox";
let openId = null;
let drawnArea = null;
let drawing = null;
export let pictureTime = () => null;

export function setPictureTime(fn) {
  pictureTime = fn;
}

for (const tab of document.querySelectorAll(".subtab[data-box]")) {
  tab.addEventListener("click", () => {
    box = tab.dataset.box;
    for (const t of document.querySelectorAll(".subtab")) t.classList.toggle("on", t === tab);
    form.hidden = true;
    renderMessages();
  });
}
document.getElementById("compose-open").addEventListener("click", () => openCompose({}));
document.getElementById("compose-cancel").addEventListener("click", () => { form.hidden = true; });
form.kind.addEventListener("change", syncKind);

function syncKind() {
  form.querySelector(".notification-only").hidden = form.kind.value !== "notification";
}

function items(data) {
  return Array.isArray(data) ? data : (data && data.items) || [];
}

export async function loadHotline() {
  if (!state.paths.has("/api/v1/hotline/inbox")) {
    cop.hotline = false;
    list.replaceChildren(el("li", { class: "muted" }, "This service offers no hotline."));
    return;
  }
  cop.hotline = true;
  try {
    const [inbox, outbox] = await Promise.all([getAll("/hotline/inbox"), getAll("/hotline/outbox")]);
    state.inbox = items(inbox);
    state.outbox = items(outbox);
  } catch (error) {
    cop.errors.push(`hotline: ${error.message}`);
  }
  renderMessages();
  drawNotifications(pictureTime());
}

function isAcked(message) {
  return Boolean(message.acknowledged_at || message.acked_at || ["acknowledged", "answered", "responded"].includes(message.state));
}

function countdown(message) {
  if (isAcked(message)) return el("span", { class: "acked" }, `acknowledged ${fmtTime(message.acknowledged_at || message.acked_at)}`);
  if (!message.due) return el("span", {}, message.state || "sent");
  // Due times are on the service's clock: the wall clock when live, the replayed time
  // in a demo or an exercise replay.
  const now = state.liveClock || !state.clock ? Date.now() : state.clock;
  const left = Date.parse(message.due) - now;
  const abs = Math.abs(left);
  const h = Math.floor(abs / 3600000);
  const m = Math.floor((abs % 3600000) / 60000);
  const s = Math.floor((abs % 60000) / 1000);
  const text = `${h ? `${h}:` : ""}${String(m).padStart(h ? 2 : 1, "0")}:${String(s).padStart(2, "0")}`;
  return el("span", { class: `due ${left < 0 ? "overdue" : ""}`, dataset: { due: message.due } },
    left < 0 ? `OVERDUE ${text}` : `due in ${text}`);
}

export function renderMessages() {
  const messages = (box === "inbox" ? state.inbox : state.outbox).slice()
    .sort((a, b) => String(b.created || b.time).localeCompare(String(a.created || a.time)));
  list.replaceChildren(...messages.map((message) => el("li", {
    class: `prio-${message.priority} ${openId === message.id ? "selected" : ""}`,
    dataset: { id: message.id, kind: message.kind, box },
    onclick: () => openMessage(message.id),
  },
  el("div", { class: "meta" },
    el("span", { class: "sev" }, message.priority),
    el("span", {}, message.kind),
    el("span", {}, box === "inbox" ? `from ${partyName(message.sender)}` : `to ${partyName(message.recipient)}`),
    el("span", {}, fmtTime(message.created || message.time))),
  el("div", { class: "msg" }, message.subject),
  el("div", { class: "figures" }, countdown(message)))));
  const unacked = state.inbox.filter((m) => !isAcked(m) && m.kind !== "ack").length;
  document.getElementById("hotline-count").textContent = String(unacked);
  document.getElementById("inbox-count").textContent = String(state.inbox.length);
  cop.inbox = state.inbox.map((m) => ({ id: m.id, subject: m.subject, kind: m.kind, acked: isAcked(m) }));
  cop.outbox = state.outbox.map((m) => ({ id: m.id, subject: m.subject, kind: m.kind, acked: isAcked(m), state: m.state }));
}

// Countdowns tick without refetching.
setInterval(() => {
  for (const node of list.querySelectorAll(".due")) {
    const id = node.closest("li").dataset.id;
    const message = [...state.inbox, ...state.outbox].find((m) => m.id === id);
    if (message) node.replaceWith(countdown(message));
  }
}, 1000);

async function openMessage(id) {
  openId = id;
  renderMessages();
  let message;
  try {
    message = await get(`/hotline/${encodeURIComponent(id)}`);
  } catch (error) {
    detail.replaceChildren(el("div", { class: "error" }, `Could not open: ${error.message}`));
    detail.hidden = false;
    return;
  }
  const incoming = message.recipient === state.party;
  const conflicts = message.conflicts || [];
  const thread = (message.thread || []).filter((m) => m.id !== message.id);
  const reply = el("textarea", { rows: 3, placeholder: "Response", "aria-label": "Response" });
  detail.replaceChildren(...[
    el("h4", {}, message.subject),
    el("div", { class: "meta" }, `${message.kind} · ${message.priority} · ${partyName(message.sender)} → ${partyName(message.recipient)} · ${fmtTime(message.created)}`),
    message.activity ? el("div", {}, `${message.activity}: ${fmtTime(message.window_start)} – ${fmtTime(message.window_end)}`) : null,
    el("div", { class: "body" }, message.body || ""),
    conflicts.length ? el("div", { class: "conflicts" },
      el("strong", {}, `Conflicts with your picture (${conflicts.length}):`),
      el("ul", {}, conflicts.map((c) => el("li", {}, c.sentence || `${c.kind || ""} ${c.name || c.id}`)))) : null,
    thread.length ? el("div", { class: "thread" }, thread.map((m) =>
      el("div", {}, `${fmtTime(m.created)} ${partyName(m.sender)}: ${m.kind} — ${m.subject}${m.body ? ` · ${m.body}` : ""}`))) : null,
    el("div", { class: "actions" },
      incoming && !isAcked(message) && message.kind !== "ack" ? el("button", { type: "button", class: "hotline-ack", onclick: () => acknowledge(id) }, "Acknowledge") : null,
      incoming && message.area ? el("button", { type: "button", onclick: () => map.fitBounds(L.geoJSON(message.area).getBounds()) }, "Show area") : null),
    incoming && message.kind !== "ack" && message.kind !== "response" ? el("div", {},
      reply,
      el("div", { class: "actions" },
        conflicts.length ? el("button", { type: "button", class: "draft", onclick: () => draftInto(reply, message, conflicts) }, "Draft from conflicts") : null,
        el("button", { type: "button", class: "respond", onclick: () => respond(id, reply.value) }, "Respond"))) : null,
  ].filter(Boolean));
  detail.hidden = false;
}

/** The service drafts the answer from the conflicts when it can; else a plain one. */
async function draftInto(reply, message, conflicts) {
  if (state.paths.has("/api/v1/hotline/{message_id}/draft")) {
    try {
      const draft = await get(`/hotline/${encodeURIComponent(message.id)}/draft`);
      reply.value = (draft && (draft.body || draft.text)) || draftFromConflicts(message, conflicts);
      return;
    } catch (error) {
      cop.errors.push(`draft: ${error.message}`);
    }
  }
  reply.value = draftFromConflicts(message, conflicts);
}

function draftFromConflicts(message, conflicts) {
  const names = conflicts.map((c) => c.name || c.id).join(", ");
  return `Your planned ${message.activity || "operation"} (${fmtTime(message.window_start)}–${fmtTime(message.window_end)}) covers our ${names}. Request you adjust the area or window.`;
}

async function acknowledge(id) {
  try {
    await post(`/hotline/${encodeURIComponent(id)}/ack`, {});
  } catch (error) {
    detail.append(el("div", { class: "error" }, `Ack failed: ${error.message}`));
    return;
  }
  await loadHotline();
  openMessage(id);
}

async function respond(id, body) {
  try {
    // An empty answer lets the service draft it (from the conflicts, for a notification).
    await post(`/hotline/${encodeURIComponent(id)}/respond`, body.trim() ? { body } : {});
  } catch (error) {
    detail.append(el("div", { class: "error" }, `Response failed: ${error.message}`));
    return;
  }
  await loadHotline();
  openMessage(id);
}

function otherParties() {
  return state.parties.filter((p) => p.id !== state.party);
}

export function openCompose(prefill) {
  document.querySelector('.tab[data-tab="hotline"]').click();
  form.recipient.replaceChildren(...otherParties().map((p) => el("option", { value: p.id }, p.name)));
  form.kind.value = prefill.kind || "concern";
  if (prefill.recipient) form.recipient.value = prefill.recipient;
  form.priority.value = prefill.priority || "urgent";
  form.subject.value = prefill.subject || "";
  form.body.value = prefill.body || "";
  form.refs.value = (prefill.refs || []).join(",");
  drawnArea = null;
  areaState.textContent = "no area";
  composeError.textContent = "";
  syncKind();
  detail.hidden = true;
  form.hidden = false;
}

/** One click: the service turns the alert into a concern; the form is the fallback. */
export async function concernFromAlert(alert) {
  const oneCall = state.paths.has("/api/v1/hotline/from-alert/{alert_id}");
  if (oneCall) {
    try {
      const message = await post(`/hotline/from-alert/${encodeURIComponent(alert.id)}`, {});
      cop.lastConcern = message && message.id;
      await loadHotline();
      document.querySelector('.tab[data-tab="hotline"]').click();
      document.querySelector('.subtab[data-box="outbox"]').click();
      return;
    } catch (error) {
      cop.errors.push(`concern: ${error.message}`);
    }
  }
  const recipient = otherParties()[0];
  openCompose({
    kind: "concern",
    recipient: recipient && recipient.id,
    priority: alert.severity === "critical" ? "flash" : "urgent",
    subject: `${alert.rule}: ${alert.message}`.slice(0, 200),
    body: `${alert.message}\nTime: ${fmtTime(alert.time)}${typeof alert.lat === "number" ? `\nPosition: ${alert.lat.toFixed(4)}, ${alert.lon.toFixed(4)}` : ""}\nAlert: ${alert.id}`,
    refs: [alert.id],
  });
}

function utcInput(value) {
  return value ? `${value}:00Z`.replace(/:00:00Z$/, ":00Z") : null;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const kind = form.kind.value;
  const body = {
    kind,
    recipient: form.recipient.value,
    priority: form.priority.value,
    subject: form.subject.value,
    body: form.body.value,
    refs: form.refs.value ? form.refs.value.split(",") : [],
  };
  if (kind === "notification") {
    if (!drawnArea) {
      composeError.textContent = "Draw the area on the map first.";
      return;
    }
    body.area = drawnArea;
    body.activity = form.activity.value;
    body.window_start = utcInput(form.window_start.value);
    body.window_end = utcInput(form.window_end.value);
  }
  try {
    const message = await post("/hotline", body);
    cop.lastSent = message && message.id;
  } catch (error) {
    composeError.textContent = error.message;
    return;
  }
  form.hidden = true;
  await loadHotline();
  document.querySelector('.subtab[data-box="outbox"]').click();
});

// Drawing a notification area: clicks add corners; Finish closes the ring.
document.getElementById("draw-area").addEventListener("click", () => {
  drawing = { points: [], line: L.polyline([], { color: "#c58cff", weight: 2, dashArray: "4 3" }).addTo(map) };
  document.getElementById("map").classList.add("drawing");
  drawHint.hidden = false;
});
map.on("click", (event) => {
  if (!drawing) return;
  drawing.points.push(event.latlng);
  drawing.line.setLatLngs(drawing.points.length > 2 ? [...drawing.points, drawing.points[0]] : drawing.points);
});
export function isDrawing() {
  return Boolean(drawing);
}
function endDrawing(keep) {
  if (!drawing) return;
  if (keep && drawing.points.length >= 3) {
    const ring = drawing.points.map((p) => [Number(p.lng.toFixed(5)), Number(p.lat.toFixed(5))]);
    ring.push(ring[0]);
    drawnArea = { type: "Polygon", coordinates: [ring] };
    areaState.textContent = `area of ${ring.length - 1} corners`;
  }
  map.removeLayer(drawing.line);
  drawing = null;
  document.getElementById("map").classList.remove("drawing");
  drawHint.hidden = true;
  cop.drawnArea = drawnArea;
}
document.getElementById("draw-finish").addEventListener("click", () => endDrawing(true));
document.getElementById("draw-cancel").addEventListener("click", () => endDrawing(false));
