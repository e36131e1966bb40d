// One sentence on why the top candidate won, from the numbers the router scored.
import * as fmt from "../format.js";

const PREFERENCE = {
  balanced: "weighs quality, cost and latency together",
  quality: "puts predicted quality first",
  price: "puts cost first",
  speed: "puts latency first",
};

function compare(label, a, b, format, lowerIsBetter) {
  if (a === null || a === undefined || b === null || b === undefined || a === b) return null;
  const better = lowerIsBetter ? a < b : a > b;
  return `${better ? "better" : "worse"} ${label} (${format(a)} vs ${format(b)})`;
}

/** `candidates` in the router's order: the first is the one it chose (health can outrank score). */
export function whyChosen(candidates, preference) {
  const ranked = candidates;
  const [top] = ranked;
  if (!top) return "No candidate was scored.";
  const rival = ranked.find((c) => c.model !== top.model) || ranked[1];
  const how = PREFERENCE[preference] ? `The "${preference}" preference ${PREFERENCE[preference]}. ` : "";
  if (!rival) return `${how}${top.model} via ${top.provider} was the only candidate that fit the request.`;
  const reasons = [
    compare("predicted quality", top.predicted_quality, rival.predicted_quality, fmt.score, false),
    compare("estimated cost", top.estimated_cost_usd, rival.estimated_cost_usd, fmt.usd, true),
    compare("estimated latency", top.estimated_latency_ms, rival.estimated_latency_ms, fmt.ms, true),
  ].filter(Boolean);
  const margin = (top.score ?? 0) - (rival.score ?? 0);
  const lead = margin >= 0 ? `${fmt.score(margin)} above` : `ranked ahead of`;
  const health = top.healthy === false ? " (its provider is unhealthy, so fallback is ready)" : "";
  return `${how}${top.model} via ${top.provider} scored ${fmt.score(top.score)}${health}, ${lead} the best other model, `
    + `${rival.model} via ${rival.provider} (${fmt.score(rival.score)})${reasons.length ? `: ${reasons.join(", ")}` : ""}.`;
}
