// Entry point: sign-in, loading the caller's picture, the live stream and the time slider.

import { get, getAll, storedToken, storeToken, forgetToken, streamEvents, ApiError } from "./api.js";
import { state, cop, el, fmtTime, actorParty } from "./state.js";
import { identityOf, sidc, symbolImage } from "./symbols.js";
import {
  map, layers, layerNames, unitLayer, loadBasemap, drawAgreement, drawSites,
  drawIncidents, drawWatch, drawNotifications, drawTrack,
} from "./maplayers.js";
import {
  mergeAlert, noteLive, renderAlerts, selectAlert, setConcernHandler, setStateFilterHandler,
} from "./alerts.js";
import { loadHotline, concernFromAlert, setPictureTime, isDrawing, renderMessages } from "./hotline.js";


const OVERRIDES_KEY = "deconfliction.identity";

window.addEventListener("error", (event) => cop.errors.push(String(event.message)));
window.addEventListener("unhandledrejection", (event) => cop.errors.push(String(event.reason)));

// ---- sign-in --------------------------------------------------------------------------

async function showLogin(message) {
  document.getElementById("login").hidden = false;
  document.getElementById("login-error").textContent = message || "";
  const demo = document.getElementById("demo-parties");
  try {
    // With the token, /health adds this party's own first report (never another's).
    const health = await get("/health");
    if (health && health.demo === false) return;
    const tokens = await get("/demo/tokens", null, { auth: false });
    const list = Array.isArray(tokens) ? tokens : (tokens && tokens.items) || [];
    if (list.length) {
      demo.replaceChildren(el("div", { class: "muted" }, "Demo: sign in as"),
        ...list.map((entry) => el("button", {
          type: "button", class: "demo-party", dataset: { party: entry.party },
          onclick: () => signIn(entry.token),
        }, `${entry.name || entry.party} (${entry.role})`)));
      demo.hidden = false;
    }
  } catch {
    demo.hidden = true; // not a demo server: the token field is the way in
  }
}

document.getElementById("login-form").addEventListener("submit", (event) => {
  event.preventDefault();
  signIn(document.getElementById("token").value.trim());
});

document.getElementById("sign-out").addEventListener("click", () => {
  forgetToken();
  window.location.reload();
});

/** The region worth a basemap: the agreement's extent grown by 25 degrees, or the world. */
function theatreBox() {
  const points = [
    ...state.lines.flatMap((l) => l.coordinates),
    ...state.sites.map((s) => [s.lon, s.lat]),
  ];
  if (!points.length) return null;
  const lons = points.map((p) => p[0]);
  const lats = points.map((p) => p[1]);
  return [Math.min(...lons) - 25, Math.min(...lats) - 25, Math.max(...lons) + 25, Math.max(...lats) + 25];
}

async function signIn(token) {
  storeToken(token);
  try {
    await start();
    if (!cop.basemapFeatures) await loadBasemap(theatreBox());
  } catch (error) {
    forgetToken();
    showLogin(error instanceof ApiError && error.status === 401 ? "That token was refused." : `Could not sign in: ${error.message}`);
  }
}

// ---- loading the picture ----------------------------------------------------------------

async function whoAmI() {
  const me = await get("/me");
  state.party = me.party;
  state.role = me.role || "viewer";
  state.parties = me.parties || [{ id: me.party, name: me.party }];
  state.actors = new Map((me.actors || []).map((a) => [a.id, a]));
  state.settings = me.settings || null;
  state.demo = Boolean(me.demo);
}

function toUnit(feature) {
  const p = feature.properties || {};
  const [lon, lat] = feature.geometry.coordinates;
  const party = p.party !== undefined ? p.party : actorParty(p.actor);
  const unit = {
    id: p.id || feature.id, name: p.name || p.id || feature.id, actor: p.actor, party,
    kind: p.kind || "other", strength: p.strength || 0, equipment: p.equipment || {},
    time: p.time, fresh: p.fresh !== false, reach_m: p.reach_m, lon, lat,
  };
  unit.sidc = sidc(unit, identityOf(party, state.party, state.identityOverrides[unit.actor]));
  return unit;
}

export async function loadUnits() {
  const started = performance.now();
  const data = await get("/units", state.at ? { at: new Date(state.at).toISOString() } : null);
  const features = Array.isArray(data) ? data : data.features || [];
  state.units = features.filter((f) => f.geometry && f.geometry.type === "Point").map(toUnit);
  unitLayer.setUnits(state.units);
  cop.units = state.units.length;
  cop.unitIds = state.units.map((u) => u.id);
  cop.unitsDrawn = unitLayer.drawn;
  cop.timings.allUnitsDrawn = unitLayer.allDrawnAt;
  cop.unitActors = [...new Set(state.units.map((u) => u.actor))];
  cop.timings.units = performance.now() - started;
  drawWatch();
}

// Open alerts first (the panel's default); resolved ones only once the officer asks.
let withResolved = false;
// Live events that arrive while a list of alerts is in flight: the list was read before
// them, so they are folded back in once it lands rather than lost with the old list.
let arrivedDuringLoad = null;
async function loadAlerts() {
  const params = { limit: 1000 };
  if (!withResolved) params.state = "open";
  if (state.at) params.at = new Date(state.at).toISOString();
  const live = !state.at;
  // Where the stream stood as the first page was read: the stream starts there.
  let position = null;
  const seen = (headers) => {
    if (position === null) position = headers.get("X-Last-Event-ID");
  };
  if (live) arrivedDuringLoad = [];
  let alerts;
  let arrived;
  try {
    alerts = await getAll("/alerts", params, 20000, { onHeaders: seen });
  } finally {
    arrived = arrivedDuringLoad || [];
    arrivedDuringLoad = null;
  }
  if (live) state.streamStart = position;
  state.alerts.clear();
  for (const alert of alerts) state.alerts.set(alert.id, alert);
  for (const [data, kind] of arrived) {
    const known = state.alerts.get(data.id);
    if (!known || Date.parse(data.time) >= Date.parse(known.updated || known.time)) mergeAlert(data, kind);
  }
  renderAlerts();
  drawWatch();
}

// Optional endpoints are looked up in the OpenAPI document first: a 404 would be a
// console error on every load of a service that does not offer them.
async function loadPaths() {
  try {
    const response = await fetch("/openapi.json", { headers: { Accept: "application/json" } });
    const spec = response.ok ? await response.json() : null;
    state.paths = new Set(Object.keys((spec && spec.paths) || {}));
  } catch {
    state.paths = new Set();
  }
  cop.apiPaths = state.paths.size;
}

export function offers(path) {
  return state.paths.has(`/api/v1${path}`);
}

async function loadReference(pathsKnown) {
  const [lines, sites] = await Promise.all([getAll("/lines"), getAll("/sites")]);
  state.lines = lines;
  state.sites = sites;
  drawAgreement();
  drawSites();
  if (state.lines.length) {
    map.fitBounds(L.latLngBounds(state.lines.flatMap((l) => l.coordinates.map(([lon, lat]) => [lat, lon]))), { padding: [20, 20] });
  }
  await pathsKnown;
  const [incidents, areas] = await Promise.all([
    offers("/incidents") ? getAll("/incidents") : [],
    offers("/lines/areas") ? get("/lines/areas") : null,
  ]);
  state.incidents = incidents;
  state.areas = areas && (areas.features || areas.type) ? areas : null;
  if (state.areas) drawAgreement();
  drawIncidents();
}

async function loadClock() {
  try {
    // With the token, /health adds this party's own first report (never another's).
    const health = await get("/health");
    const clock = health.clock || (health.engine && health.engine.clock);
    const first = health.first_report || (health.engine && health.engine.first_report);
    if (clock) state.clock = Date.parse(clock);
    state.liveClock = health.live !== false;
    if (first) state.first = Date.parse(first);
  } catch {
    // the slider falls back to the alerts' times
  }
  for (const alert of state.alerts.values()) {
    const t = Date.parse(alert.opened || alert.time);
    if (!Number.isNaN(t)) state.first = state.first ? Math.min(state.first, t) : t;
    const u = Date.parse(alert.updated || alert.time);
    if (!Number.isNaN(u)) state.clock = state.clock ? Math.max(state.clock, u) : u;
  }
  syncTimeline();
}

let streamAbort = null;
async function start() {
  // The OpenAPI document only gates optional extras; the picture does not wait for it.
  const pathsKnown = loadPaths();
  await whoAmI();
  try {
    state.identityOverrides = JSON.parse(localStorage.getItem(`${OVERRIDES_KEY}.${state.party}`) || "{}");
  } catch {
    state.identityOverrides = {};
  }
  document.getElementById("login").hidden = true;
  document.getElementById("side").hidden = false;
  document.getElementById("timeline").hidden = false;
  document.getElementById("sign-out").hidden = false;
  const badge = document.getElementById("party-badge");
  badge.textContent = `${state.parties.find((p) => p.id === state.party)?.name || state.party} · ${state.role}`;
  badge.hidden = false;
  cop.party = state.party;
  map.invalidateSize();
  await Promise.all([loadReference(pathsKnown), loadUnits(), loadAlerts(), pathsKnown.then(loadHotline)]);
  await loadClock();
  state.loadedClock = state.clock;
  buildLayerPanel();
  streamAbort = new AbortController();
  streamEvents(onEvent, onStreamState, streamAbort.signal, "/events", state.streamStart);
  if (offers("/hotline/events")) {
    streamEvents(onHotlineEvent, () => {}, streamAbort.signal, "/hotline/events");
  }
  // A slow poll besides the stream keeps states such as "overdue" current.
  setInterval(() => loadHotline(), 15000);
  // performance.now() counts from navigation start.
  cop.timings.firstRender = performance.now();
  cop.ready = true;
}

// ---- live ------------------------------------------------------------------------------

// Alert events say the picture moved: reload the units, at most one load in flight and
// one waiting, so a burst of events costs two loads, not one each.
let unitRefresh = null;
let unitsLoading = false;
let unitsDirty = false;
function scheduleUnitRefresh() {
  if (state.at) return;
  if (unitsLoading) {
    unitsDirty = true;
    return;
  }
  if (unitRefresh) return;
  unitRefresh = setTimeout(async () => {
    unitRefresh = null;
    unitsLoading = true;
    try {
      await loadUnits();
    } catch (error) {
      cop.errors.push(`units: ${error.message}`);
    }
    unitsLoading = false;
    if (unitsDirty) {
      unitsDirty = false;
      scheduleUnitRefresh();
    }
  }, 500);
}

function onEvent(message) {
  const data = message.data;
  const kind = message.event !== "message" ? message.event : (data && data.event) || "message";
  cop.lastEvent = { kind, id: message.id };
  cop.streamIds.push(message.id);
  if (cop.streamIds.length > 500) cop.streamIds.shift();
  if (kind.startsWith("hotline") || (data && data.kind && data.sender)) {
    loadHotline();
    return;
  }
  if (!data || typeof data !== "object" || !data.rule) return;
  const event = data.event || kind;
  const t = Date.parse(data.time);
  if (!Number.isNaN(t)) state.clock = state.clock ? Math.max(state.clock, t) : t;
  if (state.at) {
    syncTimeline();
    return; // looking at the past: the live event waits until the officer goes live
  }
  // The stream starts where the alert list was read, but an event that landed between the
  // two reads, or a reconnect without that position, sends past events again. Those up to
  // the clock at which the alerts were loaded are history: merged quietly (the loaded
  // state wins where it is newer), never flashed as new.
  if (arrivedDuringLoad) arrivedDuringLoad.push([data, event]);
  const known = state.alerts.get(data.id);
  const knownTime = known ? Date.parse(known.updated || known.time) : -Infinity;
  if (known && t < knownTime) return;
  const history = state.loadedClock !== null && t <= state.loadedClock;
  const alert = mergeAlert(data, event);
  renderAlerts();
  if (history) return;
  noteLive(alert, event);
  scheduleUnitRefresh();
  syncTimeline();
}

let hotlineRefresh = null;
function onHotlineEvent(message) {
  cop.lastHotlineEvent = { kind: message.event, id: message.id };
  if (hotlineRefresh) return;
  hotlineRefresh = setTimeout(() => {
    hotlineRefresh = null;
    loadHotline();
  }, 200);
}

function onStreamState(value) {
  if (value === "refused") {
    streamAbort.abort();
    forgetToken();
    document.getElementById("side").hidden = true;
    showLogin("Your token was refused; sign in again.");
    return;
  }
  cop.streamUp = value === "up";
  const node = document.getElementById("stream-state");
  node.textContent = value === "up" ? "● live stream" : "○ reconnecting";
  node.classList.toggle("up", value === "up");
}

// ---- units: click for details and track -------------------------------------------------

map.on("click", async (event) => {
  if (isDrawing() || !map.hasLayer(unitLayer)) return;
  const unit = unitLayer.unitAt(event.containerPoint);
  if (!unit) return;
  cop.selectedUnit = unit.id;
  const sym = symbolImage(unit.sidc);
  const equipment = Object.entries(unit.equipment).filter(([, n]) => n > 0).map(([k, n]) => `${n} ${k}`).join(", ");
  L.popup({ offset: [0, -sym.anchor.y + 4] }).setLatLng([unit.lat, unit.lon]).setContent(el("div", { class: "popup" },
    el("h4", {}, unit.name),
    el("div", {}, `${unit.kind} · ${unit.actor}${unit.party ? ` (${unit.party})` : " (unaligned)"}`),
    el("div", {}, `${unit.strength} personnel${equipment ? ` · ${equipment}` : ""}`),
    el("div", { class: "muted" }, `last report ${fmtTime(unit.time)}${unit.fresh ? "" : " · STALE"}`),
    el("div", { class: "muted" }, unit.sidc))).openOn(map);
  try {
    const params = state.at ? { until: new Date(state.at).toISOString() } : null;
    drawTrack(await get(`/units/${encodeURIComponent(unit.id)}/track`, params));
  } catch (error) {
    drawTrack(null);
  }
});

// ---- time ------------------------------------------------------------------------------

const slider = document.getElementById("time-slider");
const timeLabel = document.getElementById("time-label");
const liveButton = document.getElementById("go-live");
const playButton = document.getElementById("play");
let playTimer = null;

function range() {
  const end = state.clock || Date.now();
  const begin = state.first && state.first < end ? state.first : end - 86400000;
  return [begin, end];
}

function syncTimeline() {
  const [begin, end] = range();
  const t = state.at || end;
  slider.value = String(Math.round(((t - begin) / Math.max(1, end - begin)) * 1000));
  timeLabel.textContent = fmtTime(t);
  document.getElementById("clock").textContent = state.at ? `picture as of ${fmtTime(state.at)}` : `live · ${fmtTime(state.clock)}`;
  liveButton.classList.toggle("on", !state.at);
  cop.at = state.at ? new Date(state.at).toISOString() : null;
  cop.live = !state.at;
  setPictureTime(() => state.at || state.clock || null);
}

async function showAt(time) {
  state.at = time;
  syncTimeline();
  try {
    await Promise.all([loadUnits(), loadAlerts()]);
  } catch (error) {
    cop.errors.push(`time: ${error.message}`);
  }
  drawNotifications(state.at || state.clock);
}

slider.addEventListener("change", () => {
  const [begin, end] = range();
  const t = begin + ((end - begin) * Number(slider.value)) / 1000;
  showAt(Number(slider.value) >= 1000 ? null : t);
});
slider.addEventListener("input", () => {
  const [begin, end] = range();
  timeLabel.textContent = fmtTime(begin + ((end - begin) * Number(slider.value)) / 1000);
});
liveButton.addEventListener("click", () => {
  stopPlay();
  showAt(null);
});
function stopPlay() {
  clearInterval(playTimer);
  playTimer = null;
  playButton.textContent = "▶";
}
playButton.addEventListener("click", () => {
  if (playTimer) {
    stopPlay();
    return;
  }
  playButton.textContent = "❚❚";
  const [begin, end] = range();
  if (!state.at) state.at = begin;
  const step = Math.max(60000, (end - begin) / 120);
  let busy = false;
  playTimer = setInterval(async () => {
    if (busy) return;
    busy = true;
    const next = state.at + step;
    if (next >= range()[1]) {
      stopPlay();
      await showAt(null);
    } else {
      await showAt(next);
    }
    busy = false;
  }, 700);
});

// ---- layers, legend, identity -----------------------------------------------------------

function buildLayerPanel() {
  const toggles = document.getElementById("layer-toggles");
  toggles.replaceChildren(...Object.entries(layers).map(([key, layer]) => {
    const box = el("input", { type: "checkbox", checked: map.hasLayer(layer), dataset: { layer: key } });
    box.addEventListener("change", () => {
      if (box.checked) map.addLayer(layer);
      else map.removeLayer(layer);
      cop.layers = Object.keys(layers).filter((k) => map.hasLayer(layers[k]));
    });
    return el("li", {}, el("label", {}, box, ` ${layerNames[key]}`));
  }));
  cop.layers = Object.keys(layers).filter((k) => map.hasLayer(layers[k]));

  const symbolRow = (code, text, faded) => {
    const canvas = symbolImage(code, 14).canvas;
    const img = el("canvas", { width: canvas.width, height: canvas.height, class: faded ? "sw-stale" : "" });
    img.getContext("2d").drawImage(canvas, 0, 0);
    return el("div", {}, img, text);
  };
  document.getElementById("legend").replaceChildren(
    symbolRow("SFGPUCI----E---", "own forces (friend), infantry company"),
    symbolRow("SHGPUCA----F---", "other forces (hostile), armour battalion"),
    symbolRow("SHGPUCF----E---", "hostile artillery"),
    symbolRow("SHGPUCFRM--E---", "hostile rocket artillery (MLRS)"),
    symbolRow("SHGPUCI----E---", "stale report (faded)", true),
    el("div", {}, el("span", { class: "swatch sw-line" }), "deconfliction line"),
    el("div", {}, el("span", { class: "swatch sw-buffer" }), "buffer"),
    el("div", {}, el("span", { class: "swatch sw-own" }), "own party's area / site"),
    el("div", {}, el("span", { class: "swatch sw-other" }), "other party's area / site"),
    el("div", {}, el("span", { class: "swatch sw-hull" }), "massing cluster (hull, strength)"),
    el("div", {}, el("span", { class: "swatch sw-reach" }), "weapon reach of a unit threatening a site"),
    el("div", {}, el("span", { class: "swatch sw-incident" }), "incident"),
    el("div", {}, el("span", { class: "swatch sw-notify" }), "notified operation area (in its window)"),
  );

  const identity = document.getElementById("identity");
  const actors = state.actors.size ? [...state.actors.values()]
    : [...new Set(state.units.map((u) => u.actor))].map((id) => ({ id, name: id, party: actorParty(id) }));
  identity.replaceChildren(...actors.map((actor) => {
    const select = el("select", { dataset: { actor: actor.id }, "aria-label": `identity of ${actor.name}` },
      el("option", { value: "" }, `default (${identityOf(actor.party, state.party) === "F" ? "friend" : "hostile"})`),
      el("option", { value: "F" }, "friend"), el("option", { value: "H" }, "hostile"),
      el("option", { value: "N" }, "neutral"), el("option", { value: "U" }, "unknown"));
    select.value = state.identityOverrides[actor.id] || "";
    select.addEventListener("change", () => {
      if (select.value) state.identityOverrides[actor.id] = select.value;
      else delete state.identityOverrides[actor.id];
      localStorage.setItem(`${OVERRIDES_KEY}.${state.party}`, JSON.stringify(state.identityOverrides));
      for (const unit of state.units) unit.sidc = sidc(unit, identityOf(unit.party, state.party, state.identityOverrides[unit.actor]));
      unitLayer.setUnits(state.units);
    });
    return el("li", {}, el("span", {}, actor.name), select);
  }));
}

for (const tab of document.querySelectorAll(".tab")) {
  tab.addEventListener("click", () => {
    for (const t of document.querySelectorAll(".tab")) t.classList.toggle("on", t === tab);
    for (const pane of document.querySelectorAll(".pane")) pane.classList.toggle("on", pane.id === `tab-${tab.dataset.tab}`);
    if (tab.dataset.tab === "hotline") renderMessages();
  });
}

setConcernHandler(concernFromAlert);
setStateFilterHandler((value) => {
  if (value === "open" || withResolved) return;
  withResolved = true;
  loadAlerts().catch((error) => cop.errors.push(`alerts: ${error.message}`));
});
map.on("moveend", () => {
  cop.center = { lat: map.getCenter().lat, lon: map.getCenter().lng, zoom: map.getZoom() };
  cop.unitsDrawn = unitLayer.drawn;
  cop.timings.allUnitsDrawn = unitLayer.allDrawnAt;
});
window.copMap = map;
window.copSelectAlert = selectAlert;
window.copUnitDrawMs = () => unitLayer.lastDrawMs;
window.copShowAt = (iso) => showAt(iso ? Date.parse(iso) : null);

// ---- boot ------------------------------------------------------------------------------

// The basemap waits for the picture (or the sign-in form): parsing it holds the main
// thread for a moment, and the officer needs the units first.
const basemap = () => loadBasemap(theatreBox()).catch((error) => cop.errors.push(`basemap: ${error.message}`));
if (storedToken()) {
  start().then(basemap, (error) => {
    basemap();
    forgetToken();
    showLogin(error instanceof ApiError && error.status === 401 ? "Your session ended; sign in again." : `Could not load: ${error.message}`);
  });
} else {
  showLogin();
  basemap();
}
