// A request's receipt: how it was routed, every attempt on a timeline, usage, cost and feedback.
import { ApiError, getJSON, postJSON } from "../api.js";
import { chip, emptyState, h, navLink, replace } from "../dom.js";
import * as fmt from "../format.js";
import { sortableTable } from "../table.js";
import { learnedText } from "./learned.js";
import { whyChosen } from "./route_explain.js";
import { attemptTimeline } from "./timeline.js";
import { failedAttempts, outcomeChip, statusChip, tagChips } from "./request_common.js";

/** Records are written a moment after the answer ends: a fresh id may 404 briefly, so retry a little. */
async function fetchRecord(id, tries = 6) {
  for (let i = 0; ; i++) {
    try {
      return await getJSON(`/v1/requests/${encodeURIComponent(id)}`);
    } catch (error) {
      const notYet = error instanceof ApiError && error.status === 404 && !/^No route/.test(error.message);
      if (!notYet || i >= tries - 1) throw error;
      await new Promise((resolve) => setTimeout(resolve, 400));
    }
  }
}

function card(label, value, note) {
  return h("div", { class: "card" }, h("span", { class: "card-label" }, label), h("span", { class: "card-value" }, value), note ? h("span", { class: "card-note" }, note) : null);
}

function facts(r) {
  const rows = [
    ["Time", fmt.dateTime(r.created_at)], ["API", r.api], ["Stream", r.stream ? "yes" : "no"],
    ["Model asked", r.model_requested], ["Answered by", r.model ? `${r.model} via ${r.provider || "?"}` : "no answer"],
    ["Key", r.key || "none (open gateway)"], ["Tags", tagChips(r.tags)], ["HTTP status", r.http_status],
    ["Finish reason", r.finish_reason || "–"], ["Client request id", r.client_request_id || "–"],
  ];
  return h("dl", { class: "facts" }, rows.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v ?? "–"))));
}

function usageCards(r) {
  const u = r.usage || {};
  const failedCost = failedAttempts(r).reduce((sum, a) => sum + (a.cost_usd || 0), 0);
  return h("div", { class: "cards" },
    card("Time to first token", fmt.ms(r.ttft_ms)),
    card("Duration", fmt.ms(r.duration_ms)),
    card("Prompt tokens", fmt.int(u.prompt_tokens), u.cached_tokens ? `${fmt.int(u.cached_tokens)} cached` : null),
    card("Completion tokens", fmt.int(u.completion_tokens), u.reasoning_tokens ? `${fmt.int(u.reasoning_tokens)} reasoning` : null),
    card("Cost", fmt.usd(u.cost_usd), failedCost ? `${fmt.usd(failedCost)} on failed attempts` : null));
}

/** When the router's first choice is not what answered: say that fallback took over, and after what. */
function answeredNote(r, top) {
  if (!top || !r.model || (top.model === r.model && top.provider === r.provider)) return null;
  const failed = failedAttempts(r).length;
  return ` It was answered by ${r.model} via ${r.provider} after ${failed} failed attempt${failed === 1 ? "" : "s"} (see the timeline).`;
}

function routeSection(r) {
  if (!r.route) {
    return [h("h2", null, "Routing"), h("p", { class: "muted" },
      `The caller named ${r.model_requested || "a model"}, so no model was chosen; its providers were tried in the order the attempts below show.`)];
  }
  const cands = (r.route.candidates || []).map((c, i) => ({ ...c, rank: i }));
  const answered = (c) => c.model === r.model && c.provider === r.provider;
  const top = cands[0]; // the router's order: the first is the one it chose
  const columns = [
    { key: "rank", label: "#", numeric: true, value: (c) => c.rank, cell: (c) => String(c.rank + 1) },
    { key: "model", label: "Model", value: (c) => c.model, cell: (c) => h("span", null, c.model, c === top ? chip("chosen", "ok") : null, answered(c) && c !== top ? chip("answered", "warn") : null) },
    { key: "provider", label: "Provider", value: (c) => c.provider, cell: (c) => c.provider },
    { key: "q", label: "Predicted quality", numeric: true, value: (c) => c.predicted_quality, cell: (c) => fmt.score(c.predicted_quality) },
    { key: "cost", label: "Est. cost", numeric: true, value: (c) => c.estimated_cost_usd, cell: (c) => fmt.usd(c.estimated_cost_usd) },
    { key: "lat", label: "Est. latency", numeric: true, value: (c) => c.estimated_latency_ms, cell: (c) => fmt.ms(c.estimated_latency_ms) },
    { key: "score", label: "Score", numeric: true, value: (c) => c.score, cell: (c) => fmt.score(c.score) },
  ];
  // learning's shift of a candidate's predicted quality, shown only when feedback has moved some candidate
  if (cands.some((c) => learnedText(c.learned_adjustment))) {
    columns.splice(4, 0, { key: "learned", label: "Learned", numeric: true, title: "Shift of predicted quality learned from feedback (logit), and its evidence",
      value: (c) => c.learned_adjustment?.delta ?? 0, cell: (c) => h("span", { class: "learned" }, learnedText(c.learned_adjustment) ?? fmt.DASH) });
  }
  const state = { key: "rank", dir: 1 };
  const holder = h("div", { class: "table-wrap" });
  const draw = () => replace(holder, sortableTable({ id: "candidates-table", columns, rows: cands, state, onSort: (n) => { Object.assign(state, n); draw(); },
    rowAttrs: (c) => ({ class: [c === top && "chosen-row"], dataset: { model: c.model, provider: c.provider } }) }));
  draw();
  return [
    h("h2", null, "Routing decision"),
    h("dl", { class: "facts" },
      h("div", null, h("dt", null, "Preference"), h("dd", null, r.route.preference || "–")),
      h("div", null, h("dt", null, "Difficulty"), h("dd", null, r.route.difficulty?.toFixed(2) ?? "–")),
      h("div", { class: "wide" }, h("dt", null, "Reason"), h("dd", null, h("code", null, r.route.reason || "–")))),
    h("p", { class: "why", id: "why-chosen" }, whyChosen(cands, r.route.preference), answeredNote(r, top)),
    holder,
  ];
}

function attemptsSection(r) {
  const attempts = (r.attempts || []).map((a, i) => ({ ...a, n: i + 1 }));
  if (!attempts.length) return [h("h2", null, "Attempts"), emptyState("No upstream attempt was made.", r.error || "The request failed before any provider was called.")];
  const rows = attempts.map((a) => h("tr", { class: a.outcome === "ok" ? null : "failed-row", dataset: { provider: a.provider, outcome: a.outcome } },
    h("td", { class: "num" }, String(a.n)), h("td", null, a.provider), h("td", null, a.model), h("td", null, outcomeChip(a.outcome)),
    h("td", { class: "num" }, a.status ?? "–"), h("td", { class: "num" }, fmt.ms(a.started_ms)), h("td", { class: "num" }, fmt.ms(a.ttft_ms)),
    h("td", { class: "num" }, fmt.ms(a.duration_ms)), h("td", { class: "num" }, fmt.usd(a.cost_usd)), h("td", { class: "error-text" }, a.error || "")));
  return [
    h("h2", null, `Attempts (${attempts.length})`),
    attemptTimeline(attempts, r.duration_ms),
    h("div", { class: "table-wrap" }, h("table", { class: "grid-table", id: "attempts-table" },
      h("thead", null, h("tr", null, ["#", "Provider", "Model", "Outcome", "HTTP", "Started", "TTFT", "Duration", "Cost", "Error"].map((t) => h("th", null, t)))),
      h("tbody", null, rows))),
  ];
}

function feedbackSection(r, reload) {
  const list = (r.feedback || []).map((f) => h("li", null,
    f.thumbs ? chip(f.thumbs === "up" ? "✓ helpful" : "✗ not helpful", f.thumbs === "up" ? "ok" : "bad") : chip(`score ${fmt.score(f.score)}`),
    f.metric && !(f.thumbs && f.metric === "helpful") ? ` ${f.metric}` : "", f.comment ? h("q", null, f.comment) : null, f.created_at ? h("span", { class: "muted" }, ` ${fmt.dateTime(f.created_at)}`) : null));
  const comment = h("input", { type: "text", id: "feedback-comment", placeholder: "Comment (optional)", maxlength: 2000 });
  const message = h("span", { class: "muted", role: "status" });
  const send = async (thumbs) => {
    message.textContent = "Sending…";
    try {
      await postJSON("/v1/feedback", { request_id: r.id, thumbs, metric: "helpful", comment: comment.value || undefined });
      reload();
    } catch (error) {
      message.textContent = error.message;
    }
  };
  return [
    h("h2", null, "Feedback"),
    list.length ? h("ul", { class: "feedback", id: "feedback-list" }, list) : h("p", { class: "muted" }, "No feedback yet. Rate this answer: routing will learn from it."),
    h("div", { class: "toolbar" }, h("button", { type: "button", id: "thumbs-up", onclick: () => send("up") }, "✓ Helpful"),
      h("button", { type: "button", id: "thumbs-down", onclick: () => send("down") }, "✗ Not helpful"), comment, message),
  ];
}

export async function renderReceipt(page, [id]) {
  let record;
  try {
    record = await fetchRecord(id);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      page.append(h("p", { class: "crumbs" }, navLink("/console/requests", "Requests"), " / ", id),
        emptyState(/^No route/.test(error.message) ? "This build has no request log." : "No request with this id.",
          "Request ids are the x-request-id header of each answer. Records older than the retention period are gone."));
      return null;
    }
    throw error;
  }
  const draw = () => replace(page,
    h("p", { class: "crumbs" }, navLink("/console/requests", "Requests"), " / ", record.id),
    h("div", { class: "page-head" }, h("h1", null, "Request"), h("code", { class: "slug", id: "receipt-id" }, record.id), statusChip(record.status)),
    record.error ? h("div", { class: "error-box" }, h("strong", null, "Error: "), record.error) : null,
    usageCards(record), facts(record), ...routeSection(record), ...attemptsSection(record),
    ...feedbackSection(record, async () => { record = await fetchRecord(id); draw(); }));
  draw();
  return null;
}
