// The attempts of one request on a shared time axis: failed attempts in red, the answer in green,
// a tick where the first token arrived.
import { h, s } from "../dom.js";
import * as fmt from "../format.js";

const W = 1100;
const LABEL = 130;
const ROW = 28;
const COLORS = { ok: "#10b981", cancelled: "#9ca3af", hedge_lost: "#9ca3af" };

export function attemptTimeline(attempts, totalMs) {
  const end = Math.max(totalMs || 0, ...attempts.map((a) => (a.started_ms || 0) + (a.duration_ms || 0))) || 1;
  const H = attempts.length * ROW + 26;
  const x = (t) => LABEL + (t / end) * (W - LABEL - 150);
  const svg = s("svg", { viewBox: `0 0 ${W} ${H}`, width: W, class: "chart-svg timeline", id: "attempt-timeline", role: "img", "aria-label": "attempt timeline" });
  attempts.forEach((a, i) => {
    const y = 4 + i * ROW;
    const start = a.started_ms || 0;
    const width = Math.max(2, x(start + (a.duration_ms || 0)) - x(start));
    const color = COLORS[a.outcome] || "#ef4444";
    svg.append(s("text", { x: LABEL - 8, y: y + 16, class: "axis", "text-anchor": "end" }, `${a.n}. ${a.provider}`));
    svg.append(s("rect", { x: x(start), y: y + 5, width, height: ROW - 12, rx: 3, fill: color, class: "attempt-bar", "data-outcome": a.outcome },
      s("title", null, `${a.provider} ${a.model}: ${a.outcome}, ${fmt.ms(a.duration_ms)}${a.error ? ` (${a.error})` : ""}`)));
    if (a.ttft_ms !== null && a.ttft_ms !== undefined) {
      const tx = x(start + a.ttft_ms);
      svg.append(s("line", { x1: tx, x2: tx, y1: y + 2, y2: y + ROW - 4, class: "ttft-tick" }, s("title", null, `first token at ${fmt.ms(start + a.ttft_ms)}`)));
    }
    svg.append(s("text", { x: x(start) + width + 6, y: y + 16, class: "axis" }, `${a.outcome} · ${fmt.ms(a.duration_ms)}`));
  });
  const axisY = H - 6;
  for (let i = 0; i <= 4; i++) {
    const t = (end * i) / 4;
    svg.append(s("text", { x: x(t), y: axisY, class: "axis", "text-anchor": i === 0 ? "start" : "middle" }, fmt.ms(t)));
  }
  return h("figure", { class: "chart" }, h("figcaption", null, "Attempt timeline (from arrival)"), svg);
}
