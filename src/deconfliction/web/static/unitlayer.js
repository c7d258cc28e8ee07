// Units on one canvas: positions projected once at zoom 0 (a pixel at zoom z is that
// times 2^z), symbols blitted from the per-code cache, labels only when few are in view.
// Panning moves the canvas with the map pane; it is redrawn once per move end.

import { symbolImage } from "./symbols.js";

const LABEL_LIMIT = 250;
const DENSE = 2000;
const HIT_RADIUS = 14;

export const UnitLayer = L.Renderer.extend({
  options: { padding: 0.2, pane: "unitsPane" },

  initialize(options) {
    L.Renderer.prototype.initialize.call(this, options);
    this._units = [];
    this._x0 = new Float64Array(0);
    this._y0 = new Float64Array(0);
    this._highlight = new Set();
    this.drawn = 0;
    this.lastDrawMs = 0;
  },

  _initContainer() {
    this._container = document.createElement("canvas");
    this._container.className = "unit-canvas";
    // Symbols are drawn off screen and handed over as one bitmap: a visible canvas that
    // recorded 10,000 draw calls is replayed by the compositor while the map moves.
    this._screen = this._container.getContext("bitmaprenderer");
    this._off = new OffscreenCanvas(1, 1);
    this._ctx = this._off.getContext("2d");
  },

  _destroyContainer() {
    L.DomUtil.remove(this._container);
    delete this._ctx;
    delete this._container;
  },

  _update() {
    if (this._map._animatingZoom && this._bounds) return;
    L.Renderer.prototype._update.call(this);
    const b = this._bounds;
    const size = b.getSize();
    const ratio = window.devicePixelRatio >= 2 ? 2 : 1;
    L.DomUtil.setPosition(this._container, b.min);
    this._container.width = ratio * size.x;
    this._container.height = ratio * size.y;
    this._off.width = ratio * size.x;
    this._off.height = ratio * size.y;
    this._container.style.width = `${size.x}px`;
    this._container.style.height = `${size.y}px`;
    this._ratio = ratio;
    this._draw();
  },

  _updatePaths() {},

  /** units: [{id, name, lon, lat, sidc, fresh, strength, ...}] */
  setUnits(units) {
    // Stale first, so that one pass draws fresh units over them with one alpha switch.
    units = units.slice().sort((a, b) => Number(Boolean(a.fresh)) - Number(Boolean(b.fresh)));
    this._units = units;
    const n = units.length;
    this._x0 = new Float64Array(n);
    this._y0 = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      const p = L.CRS.EPSG3857.latLngToPoint(L.latLng(units[i].lat, units[i].lon), 0);
      this._x0[i] = p.x;
      this._y0[i] = p.y;
    }
    if (this._map) this._draw();
  },

  setHighlight(ids) {
    this._highlight = new Set(ids || []);
    if (this._map) this._draw();
  },

  units() {
    return this._units;
  },

  _draw() {
    if (!this._ctx || !this._bounds) return;
    const started = performance.now();
    const ctx = this._ctx;
    const ratio = this._ratio || 1;
    const b = this._bounds;
    ctx.setTransform(1, 0, 0, 1, 0, 0);
    ctx.clearRect(0, 0, this._off.width, this._off.height);
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    const map = this._map;
    const scale = map.getZoomScale(this._zoom, 0);
    const origin = map.getPixelOrigin();
    // Layer point = zoom-0 point x scale - pixel origin; canvas point subtracts bounds.min.
    const ox = origin.x + b.min.x;
    const oy = origin.y + b.min.y;
    const w = b.max.x - b.min.x;
    const h = b.max.y - b.min.y;
    const units = this._units;
    const visible = [];
    for (let i = 0; i < units.length; i++) {
      const x = this._x0[i] * scale - ox;
      const y = this._y0[i] * scale - oy;
      if (x < -30 || y < -30 || x > w + 30 || y > h + 30) continue;
      visible.push(i, x, y);
    }
    const count = visible.length / 3;
    // A crowded view gets smaller symbols: at that density full-size ones only overlap,
    // and each costs pixels on a software canvas.
    const size = count > DENSE ? 12 : 18;
    let alpha = -1;
    for (let k = 0; k < visible.length; k += 3) {
      const unit = units[visible[k]];
      const a = unit.fresh ? 1 : 0.35;
      if (a !== alpha) {
        ctx.globalAlpha = a;
        alpha = a;
      }
      const sym = symbolImage(unit.sidc, size);
      // Whole pixels: a fractional position would resample every symbol.
      const x = Math.round(visible[k + 1] - sym.anchor.x);
      const y = Math.round(visible[k + 2] - sym.anchor.y);
      if (ratio === 1) ctx.drawImage(sym.canvas, x, y);
      else ctx.drawImage(sym.canvas, x, y, sym.width, sym.height);
    }
    ctx.globalAlpha = 1;
    if (this._highlight.size) {
      ctx.strokeStyle = "#ffd400";
      ctx.lineWidth = 3;
      for (let k = 0; k < visible.length; k += 3) {
        if (!this._highlight.has(units[visible[k]].id)) continue;
        ctx.beginPath();
        ctx.arc(visible[k + 1], visible[k + 2], 20, 0, Math.PI * 2);
        ctx.stroke();
      }
    }
    if (count <= LABEL_LIMIT) {
      ctx.font = "600 11px system-ui, sans-serif";
      ctx.textAlign = "center";
      ctx.textBaseline = "top";
      ctx.lineWidth = 3;
      ctx.strokeStyle = "rgba(5,10,16,.9)";
      // Greedy placement: fresh and highlighted units first; a label that would overlap
      // one already placed is left out rather than drawn into an unreadable smear.
      const order = [];
      for (let k = 0; k < visible.length; k += 3) order.push(k);
      const weight = (k) => {
        const unit = units[visible[k]];
        return (this._highlight.has(unit.id) ? 4 : 0) + (unit.fresh ? 2 : 0);
      };
      order.sort((a, b) => weight(b) - weight(a));
      const placed = [];
      for (const k of order) {
        const unit = units[visible[k]];
        const sym = symbolImage(unit.sidc);
        const label = unit.strength ? `${unit.name} · ${unit.strength}` : unit.name;
        const y = visible[k + 2] - sym.anchor.y + sym.height + 1;
        const half = ctx.measureText(label).width / 2 + 2;
        const box = [visible[k + 1] - half, y, visible[k + 1] + half, y + 13];
        if (placed.some((p) => box[0] < p[2] && box[2] > p[0] && box[1] < p[3] && box[3] > p[1])) continue;
        placed.push(box);
        ctx.globalAlpha = unit.fresh ? 1 : 0.5;
        ctx.strokeText(label, visible[k + 1], y);
        ctx.fillStyle = "#e8eef4";
        ctx.fillText(label, visible[k + 1], y);
      }
      ctx.globalAlpha = 1;
    }
    this._screen.transferFromImageBitmap(this._off.transferToImageBitmap());
    this.drawn = count;
    this.lastDrawMs = performance.now() - started;
    // The first moment the whole picture was on screen: the page's first-render figure.
    if (this.allDrawnAt === undefined && units.length && count === units.length) {
      this.allDrawnAt = performance.now();
    }
  },

  /** The unit nearest a container point, within the symbol's size, or null. */
  unitAt(containerPoint) {
    const map = this._map;
    const scale = map.getZoomScale(map.getZoom(), 0);
    const topLeft = map.containerPointToLayerPoint([0, 0]).add(map.getPixelOrigin());
    let best = null;
    let bestDistance = HIT_RADIUS * HIT_RADIUS;
    for (let i = 0; i < this._units.length; i++) {
      const dx = this._x0[i] * scale - topLeft.x - containerPoint.x;
      const dy = this._y0[i] * scale - topLeft.y - containerPoint.y;
      const d = dx * dx + dy * dy;
      if (d <= bestDistance) {
        bestDistance = d;
        best = this._units[i];
      }
    }
    return best;
  },
});
