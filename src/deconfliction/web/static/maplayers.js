// The map and its layers: basemap from Natural Earth (world-atlas TopoJSON), the
// agreement (lines, buffers, areas, sites), and the watch's overlays (massing hulls,
// reach rings, incidents, notification areas). Units live in unitlayer.js.

import { UnitLayer } from "./unitlayer.js";
import { reachOf, DEFAULT_RANGES } from "./symbols.js";
import { state, cop, el, fmtTime, partyName } from "./state.js";

const OWN = "#6fb6ff";
const OTHER = "#ff6b6b";
const AMBER = "#e8b84a";
const NOTIFY = "#c58cff";

export const map = L.map("map", {
  preferCanvas: true,
  zoomControl: true,
  worldCopyJump: false,
  minZoom: 3,
  maxZoom: 16,
  attributionControl: true,
}).setView([35.3, 40.2], 8);
map.attributionControl.setPrefix(false);
map.attributionControl.addAttribution("Natural Earth · world-atlas");
map.createPane("basePane").style.zIndex = 150;
map.createPane("areaPane").style.zIndex = 250;
map.createPane("unitsPane").style.zIndex = 450;
map.createPane("overPane").style.zIndex = 460;

const baseRenderer = L.canvas({ pane: "basePane", padding: 0.2 });
const areaRenderer = L.canvas({ pane: "areaPane", padding: 0.2 });
const overRenderer = L.canvas({ pane: "overPane", padding: 0.2 });

export const unitLayer = new UnitLayer();

export const layers = {
  basemap: L.layerGroup(),
  areas: L.layerGroup(),
  lines: L.layerGroup(),
  sites: L.layerGroup(),
  units: unitLayer,
  tracks: L.layerGroup(),
  massing: L.layerGroup(),
  reach: L.layerGroup(),
  incidents: L.layerGroup(),
  notifications: L.layerGroup(),
};

export const layerNames = {
  basemap: "Basemap (countries)",
  areas: "Areas and buffers",
  lines: "Deconfliction lines",
  sites: "Sites",
  units: "Units",
  tracks: "Selected unit's track",
  massing: "Massing clusters",
  reach: "Reach rings",
  incidents: "Incidents",
  notifications: "Notification areas",
};

for (const layer of Object.values(layers)) layer.addTo(map);

let basemapBox;

/** Countries (and their borders) within `box` [w, s, e, n], or the whole world. */
export async function loadBasemap(box) {
  if (basemapBox !== undefined && (basemapBox === null || box !== null)) return;
  basemapBox = box;
  layers.basemap.clearLayers();
  const response = await fetch("/static/vendor/world-atlas/countries-50m.json");
  const topo = await response.json();
  const inBox = (ring) => {
    if (!box) return true;
    let w = Infinity, s = Infinity, e = -Infinity, n = -Infinity;
    for (const [x, y] of ring) {
      if (x < w) w = x;
      if (x > e) e = x;
      if (y < s) s = y;
      if (y > n) n = y;
    }
    return w <= box[2] && e >= box[0] && s <= box[3] && n >= box[1];
  };
  const rings = (geometry) => (geometry.type === "Polygon" ? geometry.coordinates : geometry.coordinates.flat());
  const all = topojson.feature(topo, topo.objects.countries);
  const land = {
    type: "FeatureCollection",
    features: all.features.filter((f) => f.geometry && rings(f.geometry).some((r) => inBox(r))),
  };
  const mesh = topojson.mesh(topo, topo.objects.countries, (a, b) => a !== b);
  const borders = { type: "MultiLineString", coordinates: mesh.coordinates.filter(inBox) };
  L.geoJSON(land, {
    renderer: baseRenderer, interactive: false,
    style: { color: "#1b2a38", weight: 0, fillColor: "#1a2633", fillOpacity: 1 },
  }).addTo(layers.basemap);
  L.geoJSON(borders, {
    renderer: baseRenderer, interactive: false,
    style: { color: "#4a5d70", weight: 1.2, dashArray: "4 3", fill: false },
  }).addTo(layers.basemap);
  cop.basemapFeatures = land.features.length;
}

function sideColour(party) {
  return party === state.party ? OWN : OTHER;
}

const ll = ([lon, lat]) => [lat, lon];

export function drawAgreement() {
  layers.lines.clearLayers();
  layers.areas.clearLayers();
  const fallbackBuffers = [];
  if (state.areas) {
    L.geoJSON(state.areas, {
      renderer: areaRenderer, interactive: false,
      style: (feature) => {
        const p = feature.properties || {};
        if (p.kind === "buffer") {
          return { color: AMBER, weight: 0, fillColor: AMBER, fillOpacity: 0.18 };
        }
        const colour = sideColour(p.party);
        return { color: colour, weight: 0, fillColor: colour, fillOpacity: 0.09 };
      },
    }).addTo(layers.areas);
  }
  for (const line of state.lines) {
    const coords = line.coordinates.map(ll);
    if (!state.areas) fallbackBuffers.push({ coords, buffer: line.buffer_m || 0 });
    const polyline = L.polyline(coords, {
      renderer: overRenderer, color: AMBER, weight: 3, opacity: 0.95,
    }).addTo(layers.lines);
    polyline.bindTooltip(
      el("span", {}, `${line.name} · left: ${partyName(line.left)}, right: ${partyName(line.right)} · buffer ${(line.buffer_m / 1000).toFixed(1)} km`),
      { sticky: true, className: "line-label" },
    );
  }
  drawFallbackBuffers(fallbackBuffers);
  cop.lines = state.lines.map((line) => line.id);
  cop.areas = state.areas ? state.areas.features.map((f) => ({ ...f.properties })) : [];
}

// Without the server's areas, the buffer is still worth seeing: a stroke as wide as
// twice the buffer at the line's latitude, redrawn when the zoom changes its pixel width.
let fallback = [];
function drawFallbackBuffers(buffers) {
  fallback = buffers.map(({ coords, buffer }) => {
    const layer = L.polyline(coords, {
      renderer: areaRenderer, interactive: false, color: AMBER, opacity: 0.18,
      lineCap: "butt", weight: 1,
    }).addTo(layers.areas);
    layer.bufferMetres = buffer;
    return layer;
  });
  sizeFallbackBuffers();
}
function sizeFallbackBuffers() {
  for (const layer of fallback) {
    const lat = layer.getLatLngs()[0].lat;
    const metresPerPixel = (40075016.686 * Math.cos((lat * Math.PI) / 180)) / (256 * 2 ** map.getZoom());
    layer.setStyle({ weight: Math.max(2, (2 * layer.bufferMetres) / metresPerPixel) });
  }
}
map.on("zoomend", sizeFallbackBuffers);

// Site names stay on the map only when zoomed in far enough for them not to pile up.
function syncLabelZoom() {
  map.getContainer().classList.toggle("few-labels", map.getZoom() < 10);
}
map.on("zoomend", syncLabelZoom);
syncLabelZoom();

const SITE_ABBR = { headquarters: "HQ", outpost: "OP", facility: "FAC", field: "FLD", hospital: "MED", other: "SITE" };
const siteMarkers = new Map();

export function drawSites() {
  layers.sites.clearLayers();
  siteMarkers.clear();
  for (const site of state.sites) {
    const icon = L.divIcon({
      className: "",
      html: el("div", { class: `site-icon prio-${site.priority} ${site.party === state.party ? "own" : "other"}` }, SITE_ABBR[site.kind] || "SITE"),
      iconSize: [30, 22],
      iconAnchor: [15, 11],
    });
    const marker = L.marker([site.lat, site.lon], { icon, pane: "markerPane", keyboard: false });
    marker.bindTooltip(el("span", {}, site.name), { direction: "right", offset: [16, 0], className: "site-label", permanent: true });
    marker.bindPopup(() => el("div", { class: "popup" },
      el("h4", {}, site.name),
      el("div", {}, `${site.kind} · priority ${site.priority}`),
      el("div", { class: "muted" }, `${site.personnel} personnel · ${partyName(site.party)}`),
      el("div", { class: "muted" }, `${site.lat.toFixed(3)}, ${site.lon.toFixed(3)}`)));
    marker.addTo(layers.sites);
    siteMarkers.set(site.id, marker);
  }
  cop.sites = state.sites.map((site) => site.id);
}

export function highlightSite(id) {
  for (const [siteId, marker] of siteMarkers) {
    const node = marker.getElement() && marker.getElement().querySelector(".site-icon");
    if (node) node.classList.toggle("highlight", siteId === id);
  }
}

export function drawIncidents() {
  layers.incidents.clearLayers();
  for (const incident of state.incidents) {
    const icon = L.divIcon({ className: "", html: el("div", { class: "incident-icon" }, "✸"), iconSize: [18, 18], iconAnchor: [9, 9] });
    L.marker([incident.lat, incident.lon], { icon, keyboard: false })
      .bindPopup(() => el("div", { class: "popup" },
        el("h4", {}, `${incident.kind}${incident.location ? ` · ${incident.location}` : ""}`),
        el("div", { class: "muted" }, fmtTime(incident.time)),
        el("div", {}, incident.notes || incident.target || ""),
        incident.casualties && incident.casualties.high
          ? el("div", {}, `casualties ${incident.casualties.low}–${incident.casualties.high}`) : null))
      .addTo(layers.incidents);
  }
  cop.incidents = state.incidents.length;
}

function hull(points) {
  // Andrew's monotone chain over [x, y] in lon/lat; fine at a cluster's scale.
  const pts = points.slice().sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a[0] - o[0]) * (b[1] - o[1]) - (a[1] - o[1]) * (b[0] - o[0]);
  const lower = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  return lower.slice(0, -1).concat(upper.slice(0, -1));
}

/** Massing hulls and reach rings from the open alerts and the units they name. */
export function drawWatch() {
  layers.massing.clearLayers();
  layers.reach.clearLayers();
  const byId = new Map(state.units.map((unit) => [unit.id, unit]));
  const ranges = (state.settings && state.settings.weapon_ranges_m) || DEFAULT_RANGES;
  let hulls = 0;
  const ringed = new Set();
  for (const alert of state.alerts.values()) {
    if (alert.state === "resolved") continue;
    const members = (alert.units || []).map((id) => byId.get(id)).filter(Boolean);
    if (alert.rule === "force.massing" && members.length) {
      const strength = members.reduce((sum, unit) => sum + (unit.strength || 0), 0);
      const heavy = members.reduce((sum, unit) => {
        const eq = unit.equipment || {};
        return sum + (eq.tank || 0) + (eq.artillery || 0) + (eq.mlrs || 0);
      }, 0);
      const shape = hull(members.map((unit) => [unit.lon, unit.lat]));
      const style = { renderer: overRenderer, color: OTHER, weight: 2, dashArray: "6 4", fillColor: OTHER, fillOpacity: 0.08 };
      const layer = shape.length >= 3
        ? L.polygon(shape.map(ll), style)
        : L.circle(ll(shape[0]), { ...style, radius: 2500 });
      layer.addTo(layers.massing);
      // The label sits above the hull's northernmost member, clear of the units inside.
      const north = members.reduce((a, b) => (b.lat > a.lat ? b : a));
      L.tooltip({ permanent: true, direction: "top", offset: [0, -22], className: "hull-label", interactive: false })
        .setLatLng([north.lat, north.lon])
        .setContent(el("span", {}, `massing: ${members.length} unit${members.length > 1 ? "s" : ""}, ${strength} personnel${heavy ? `, ${heavy} heavy weapons` : ""}`))
        .addTo(layers.massing);
      hulls += 1;
    }
    if (alert.rule === "site.threat" || (alert.rule === "force.massing" && alert.severity === "critical")) {
      for (const unit of members) {
        const reach = reachOf(unit, ranges);
        if (!reach || ringed.has(unit.id)) continue;
        ringed.add(unit.id);
        L.circle([unit.lat, unit.lon], {
          renderer: overRenderer, radius: reach, color: "#ff8c3b", weight: 1.5, dashArray: "2 5",
          fill: false, interactive: false,
        }).addTo(layers.reach);
      }
    }
  }
  cop.hulls = hulls;
  cop.reachRings = ringed.size;
}

/** Notification areas whose window covers the picture's time. */
export function drawNotifications(time) {
  layers.notifications.clearLayers();
  let shown = 0;
  const seen = new Set();
  for (const message of [...state.inbox, ...state.outbox]) {
    if (message.kind !== "notification" || !message.area || seen.has(message.id)) continue;
    seen.add(message.id);
    const start = message.window_start ? Date.parse(message.window_start) : -Infinity;
    const end = message.window_end ? Date.parse(message.window_end) : Infinity;
    if (time !== null && (time < start || time > end)) continue;
    L.geoJSON(message.area, {
      renderer: overRenderer,
      style: { color: NOTIFY, weight: 2, fillColor: NOTIFY, fillOpacity: 0.15 },
    }).bindTooltip(el("span", {}, `${message.activity || "notification"}: ${message.subject} (${fmtTime(message.window_start)}–${fmtTime(message.window_end)})`))
      .addTo(layers.notifications);
    shown += 1;
  }
  cop.notificationAreas = shown;
}

export function drawTrack(feature) {
  layers.tracks.clearLayers();
  if (!feature) return;
  const geometry = feature.geometry || feature;
  if (!geometry || !geometry.coordinates || !geometry.coordinates.length) return;
  const coords = geometry.coordinates.map(ll);
  L.polyline(coords, { renderer: overRenderer, color: "#ffd400", weight: 2, dashArray: "5 4" }).addTo(layers.tracks);
  for (const point of coords) {
    L.circleMarker(point, { renderer: overRenderer, radius: 3, color: "#ffd400", weight: 1, fillOpacity: 0.8 }).addTo(layers.tracks);
  }
  cop.track = coords.length;
}
