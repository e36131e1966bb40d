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

export function whyChosen(candidates, preference) {
  const ranked = [...candidates].sort((a, b) => (b.score ?? -Infinity) - (a.score ?? -Infinity));
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
  return `${how}${top.model} via ${top.provider} scored ${fmt.score(top.score)}, ${fmt.score(margin)} above the best other model, `
    + `${rival.model} via ${rival.provider}${reasons.length ? `: ${reasons.join(", ")}` : ""}.`;
}
