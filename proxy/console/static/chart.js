// Small SVG charts drawn with DOM calls (no library, no markup parsing): time series and bars.
import { h, s } from "./dom.js";
import { day, dayHour, hourMinute } from "./format.js";

export const PALETTE = ["#3b82f6", "#f59e0b", "#10b981", "#ef4444", "#8b5cf6", "#06b6d4", "#ec4899", "#84cc16"];
const WIDTH = 640;
const M = { left: 64, right: 16, top: 14, bottom: 30 };


/** Round numbers for an axis from 0 to at least `max`. */
export function niceTicks(max, count = 4) {
  if (!(max > 0)) return [0, 1];
  const raw = max / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 5, 10].map((m) => m * mag).find((st) => st >= raw);
  const ticks = [];
  for (let v = 0; v < max + step * 0.999; v += step) ticks.push(Number(v.toPrecision(12)));
  return ticks;
}

const indexOf = (item, i) => (item.colorIndex ?? i) % PALETTE.length;

function legend(series) {
  return h("div", { class: "legend" }, series.map((ser, i) =>
    h("span", { class: "legend-item" }, h("span", { class: "swatch", dataset: { color: String(indexOf(ser, i)) } }), ser.name)));
}

function frame(title, svg, series) {
  return h("figure", { class: "chart" }, title ? h("figcaption", null, title) : null, svg, series && series.length > 1 ? legend(series) : null);
}

/**
 * A line per series over time. series: [{name, points: [[Date, number|null], ...], colorIndex?}].
 * Options: yFormat (number -> string), height, domain [Date, Date], title.
 */
export function lineChart(series, { yFormat = String, height = 200, domain, title, width = WIDTH } = {}) {
  const W = width;
  const all = series.flatMap((ser) => ser.points.filter(([, v]) => v !== null && v !== undefined));
  if (!all.length) return frame(title, h("div", { class: "chart-empty" }, "No data in this range yet."), []);
  const times = all.map(([t]) => t.getTime());
  const [x0, x1] = domain ? domain.map((d) => d.getTime()) : [Math.min(...times), Math.max(...times)];
  const span = Math.max(1, x1 - x0);
  const ticks = niceTicks(Math.max(...all.map(([, v]) => v)));
  const yMax = ticks[ticks.length - 1] || 1;
  const H = height;
  const x = (t) => M.left + ((t - x0) / span) * (W - M.left - M.right);
  const y = (v) => H - M.bottom - (v / yMax) * (H - M.top - M.bottom);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, class: "chart-svg", role: "img", "aria-label": title || "chart" });
  for (const v of ticks) {
    svg.append(s("line", { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), class: "grid" }));
    svg.append(s("text", { x: M.left - 6, y: y(v) + 4, class: "axis", "text-anchor": "end" }, yFormat(v)));
  }
  const xfmt = span > 36 * 3600e3 ? day : hourMinute;
  const xticks = Math.max(2, Math.floor((W - M.left) / 110));
  for (let i = 0; i <= xticks; i++) {
    const t = x0 + (span * i) / xticks;
    svg.append(s("text", { x: x(t), y: H - 10, class: "axis", "text-anchor": i === 0 ? "start" : i === xticks ? "end" : "middle" }, xfmt(new Date(t))));
  }
  series.forEach((ser, i) => {
    const pts = ser.points.filter(([, v]) => v !== null && v !== undefined).sort((a, b) => a[0] - b[0]);
    const color = PALETTE[indexOf(ser, i)];
    if (pts.length > 1) {
      const d = pts.map(([t, v], j) => `${j ? "L" : "M"}${x(t.getTime()).toFixed(1)},${y(v).toFixed(1)}`).join("");
      svg.append(s("path", { d, fill: "none", stroke: color, "stroke-width": 2, class: "series" }));
    }
    for (const [t, v] of pts) {
      svg.append(s("circle", { cx: x(t.getTime()), cy: y(v), r: pts.length > 1 ? 2.5 : 4, fill: color },
        s("title", null, `${ser.name} · ${dayHour(t)} · ${yFormat(v)}`)));
    }
  });
  return frame(title, svg, series);
}

/** Horizontal bars, one per row: [{label, value, colorIndex?}]. */
export function barChart(rows, { format = String, title, width = WIDTH } = {}) {
  const W = width;
  if (!rows.length) return frame(title, h("div", { class: "chart-empty" }, "No data in this range yet."), []);
  const rowH = 26;
  const H = rows.length * rowH + 8;
  const labelW = Math.min(150, W * 0.3);
  const max = Math.max(...rows.map((r) => r.value || 0)) || 1;
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, class: "chart-svg", role: "img", "aria-label": title || "bars" });
  rows.forEach((row, i) => {
    const yTop = 4 + i * rowH;
    const width = ((row.value || 0) / max) * (W - labelW - 100);
    svg.append(s("text", { x: labelW - 8, y: yTop + 16, class: "axis", "text-anchor": "end" }, row.label));
    svg.append(s("rect", { x: labelW, y: yTop + 4, width: Math.max(1, width), height: rowH - 10, rx: 3, fill: PALETTE[indexOf(row, i)] },
      s("title", null, `${row.label}: ${format(row.value)}`)));
    svg.append(s("text", { x: labelW + width + 6, y: yTop + 16, class: "axis value" }, row.value === null ? "–" : format(row.value)));
  });
  return frame(title, svg, []);
}
