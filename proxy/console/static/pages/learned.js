// What learning from feedback has done to routing: a model's corrections (admin) and a candidate's adjustment.
import { ApiError, currentSession, getOptional } from "../api.js";
import { emptyState, h, replace } from "../dom.js";
import * as fmt from "../format.js";

const signed = (v) => (v === null || v === undefined ? fmt.DASH : `${v > 0 ? "+" : ""}${v.toFixed(3)}`);

/** A /v1/route or receipt candidate's `learned_adjustment`, or null when nothing was learned for it. */
export function learnedText(adjustment) {
  if (!adjustment || !adjustment.evidence) return null;
  return `${signed(adjustment.delta)} (${fmt.int(adjustment.evidence)} obs.)`;
}

function scopeLabel(scope) {
  return scope === "deployment" ? "everyone (deployment)" : scope.replace(/^key:/, "key ");
}

/** The learned corrections for one model, from GET /v1/routing/corrections (admin keys only). */
export async function correctionsSection(slug) {
  const holder = h("div", { id: "model-corrections" });
  if (!currentSession().admin) return null;
  let answer;
  try {
    answer = await getOptional("/v1/routing/corrections", { model: slug });
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) throw error;
    replace(holder, emptyState("Learned corrections could not load.", error.message));
    return holder;
  }
  if (!answer) return null; // a build without learning's API
  if (!answer.learning) {
    replace(holder, emptyState("Learning from feedback is off.", "auto routing and routing.feedback.enabled turn it on."));
  } else if (!answer.data.length) {
    replace(holder, emptyState("No feedback has moved this model's routing yet.",
      "Ratings of its auto answers (POST /v1/feedback) and their failures shift its predicted quality here."));
  } else {
    replace(holder, h("div", { class: "table-wrap" }, h("table", { class: "grid-table", id: "corrections-table" },
      h("thead", null, h("tr", null, [["Scope"], ["Δ quality (logit)", 1], ["Region-dependent part", 1], ["Evidence", 1], ["Last update"]]
        .map(([t, numeric]) => h("th", { scope: "col", class: numeric && "num" }, t)))),
      h("tbody", null, answer.data.map((c) => h("tr", { dataset: { scope: c.scope } },
        h("td", null, scopeLabel(c.scope)),
        h("td", { class: ["num", c.delta_b < 0 ? "negative" : "positive"] }, signed(c.delta_b)),
        h("td", { class: "num" }, c.delta_a_norm.toFixed(3)),
        h("td", { class: "num" }, `${fmt.int(c.evidence)} obs.`),
        h("td", null, fmt.dateTime(c.updated_at))))))));
  }
  return holder;
}
