// MIL-STD-2525C symbol codes for units, drawn once per code by milsymbol and cached.

const FUNCTION_ID = {
  infantry: "UCI---",
  armor: "UCA---",
  artillery: "UCF---",
  mlrs: "UCFRM-",
  mortar: "UCFM--",
  "air-defence": "UCD---",
  hq: "U-----",
  other: "U-----",
};

export const DEFAULT_RANGES = {
  infantry: 1500, armor: 4000, tank: 4000, mortar: 7000, apc: 1500, artillery: 25000,
  mlrs: 40000, "air-defence": 0, aircraft: 0, hq: 0, other: 0,
};

/** Echelon (position 12) from personnel, as a reader of the symbol would size it. */
export function echelon(strength) {
  if (!strength) return "-";
  if (strength < 10) return "A";
  if (strength <= 15) return "B";
  if (strength <= 40) return "D";
  if (strength <= 250) return "E";
  if (strength <= 1000) return "F";
  if (strength <= 5000) return "H";
  return "I";
}

/** Standard identity as the viewing party expects: own forces friend, others hostile. */
export function identityOf(unitParty, viewer, override) {
  if (override) return override;
  if (unitParty && unitParty === viewer) return "F";
  return "H";
}

export function sidc(unit, identity) {
  if (unit.kind === "aircraft") return `S${identity}APMF--------`.padEnd(15, "-");
  const fn = FUNCTION_ID[unit.kind] || FUNCTION_ID.other;
  const hq = unit.kind === "hq" ? "A" : "-";
  return `S${identity}GP${fn}${hq}${echelon(unit.strength)}---`.slice(0, 15).padEnd(15, "-");
}

export function reachOf(unit, ranges = DEFAULT_RANGES) {
  if (typeof unit.reach_m === "number") return unit.reach_m;
  let reach = ranges[unit.kind] || 0;
  for (const [name, count] of Object.entries(unit.equipment || {})) {
    if (count > 0) reach = Math.max(reach, ranges[name] || 0);
  }
  return reach;
}

const cache = new Map();

/** A canvas of the symbol and its anchor; one milsymbol render per code and size. */
export function symbolImage(code, size = 18) {
  const key = `${code}|${size}`;
  let entry = cache.get(key);
  if (!entry) {
    const symbol = new ms.Symbol(code, { size, fill: true, frame: true, strokeWidth: 4 });
    const canvas = symbol.asCanvas(window.devicePixelRatio >= 2 ? 2 : 1);
    const anchor = symbol.getAnchor();
    const sz = symbol.getSize();
    entry = { canvas, anchor, width: sz.width, height: sz.height };
    cache.set(key, entry);
  }
  return entry;
}

export function cachedSymbols() {
  return cache.size;
}
