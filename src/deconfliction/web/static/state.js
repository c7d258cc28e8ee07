// What the page knows, and the summary of what it drew, exposed on window.cop so a test
// (or a curious officer at the console) can check the picture without reading pixels.

export const state = {
  party: null,
  role: null,
  parties: [],
  actors: new Map(),
  settings: null,
  demo: false,
  units: [],
  lines: [],
  areas: null,
  sites: [],
  incidents: [],
  alerts: new Map(),
  inbox: [],
  outbox: [],
  at: null,
  clock: null,
  first: null,
  identityOverrides: {},
  paths: new Set(),
  loadedClock: null,
  streamStart: null,
  liveClock: true,
};

export const cop = {
  ready: false,
  streamIds: [],
  party: null,
  units: 0,
  unitIds: [],
  unitsDrawn: 0,
  lines: [],
  sites: [],
  incidents: 0,
  alerts: [],
  openAlerts: 0,
  hulls: 0,
  reachRings: 0,
  notificationAreas: 0,
  inbox: [],
  outbox: [],
  at: null,
  live: true,
  selectedAlert: null,
  lastFly: null,
  criticalCue: 0,
  streamUp: false,
  timings: {},
  errors: [],
};
window.cop = cop;

export function partyName(id) {
  const party = state.parties.find((p) => p.id === id);
  return party ? party.name : id;
}

export function actorParty(actorId) {
  const actor = state.actors.get(actorId);
  return actor ? actor.party : null;
}

export function fmtTime(value) {
  if (!value) return "—";
  const d = value instanceof Date ? value : new Date(value);
  if (Number.isNaN(d.getTime())) return String(value);
  return `${d.toISOString().slice(0, 16).replace("T", " ")}Z`;
}

export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) {
    if (value === null || value === undefined || value === false) continue;
    if (key === "class") node.className = value;
    else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
    else if (key === "dataset") Object.assign(node.dataset, value);
    else node.setAttribute(key, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child === null || child === undefined || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}
