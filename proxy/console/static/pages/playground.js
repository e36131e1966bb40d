// Playground: a prompt, a pool and a preference -> /v1/route's ranking; then, optionally, send it
// with model "auto" and watch the answer stream in.
import { call, getJSON, postJSON } from "../api.js";
import { chip, emptyState, h, navLink, replace } from "../dom.js";
import * as fmt from "../format.js";
import { readEvents } from "../sse.js";
import { sortableTable } from "../table.js";
import { whyChosen } from "./route_explain.js";

const PREFERENCES = [["balanced", "Balanced"], ["quality", "Quality first"], ["price", "Price first"], ["speed", "Speed first"]];

function requestBody(prompt, pool, preference) {
  const config = { preference };
  if (pool.length) config.available_models = pool;
  return { model: "auto", messages: [{ role: "user", content: prompt }], model_routing_config: config };
}

function ranking(decision) {
  const cands = decision.candidates.map((c, i) => ({ ...c, rank: i }));
  const maxScore = Math.max(...cands.map((c) => c.score || 0)) || 1;
  const columns = [
    { key: "rank", label: "#", numeric: true, value: (c) => c.rank, cell: (c) => String(c.rank + 1) },
    { key: "model", label: "Model", value: (c) => c.model, cell: (c) => h("span", null, navLink(`/console/models/${c.model}`, c.model), c.rank === 0 ? chip("chosen", "ok") : null, c.healthy === false ? chip("unhealthy", "bad") : null) },
    { key: "provider", label: "Provider", value: (c) => c.provider, cell: (c) => c.provider },
    { key: "q", label: "Predicted quality", numeric: true, value: (c) => c.predicted_quality, cell: (c) => fmt.score(c.predicted_quality) },
    { key: "cost", label: "Est. cost", numeric: true, value: (c) => c.estimated_cost_usd, cell: (c) => fmt.usd(c.estimated_cost_usd) },
    { key: "lat", label: "Est. latency", numeric: true, value: (c) => c.estimated_latency_ms, cell: (c) => fmt.ms(c.estimated_latency_ms) },
    { key: "score", label: "Score", numeric: true, value: (c) => c.score, cell: (c) => h("span", { class: "score-cell" },
      h("meter", { min: 0, max: maxScore, value: Math.max(0, c.score || 0) }), ` ${fmt.score(c.score)}`) },
  ];
  const state = { key: "rank", dir: 1 };
  const holder = h("div", { class: "table-wrap" });
  const draw = () => replace(holder, sortableTable({ id: "ranking-table", columns, rows: cands, state, onSort: (n) => { Object.assign(state, n); draw(); },
    rowAttrs: (c) => ({ class: c.rank === 0 && "chosen-row", dataset: { model: c.model, provider: c.provider } }) }));
  draw();
  const f = decision.features || {};
  return [
    h("div", { class: "cards" },
      h("div", { class: "card" }, h("span", { class: "card-label" }, "Chosen"), h("span", { class: "card-value", id: "route-chosen" }, decision.chosen)),
      h("div", { class: "card" }, h("span", { class: "card-label" }, "Task"), h("span", { class: "card-value" }, f.task || "–"), h("span", { class: "card-note" }, `language ${f.language || "?"}`)),
      h("div", { class: "card" }, h("span", { class: "card-label" }, "Difficulty"), h("span", { class: "card-value" }, f.difficulty?.toFixed(2) ?? "–")),
      h("div", { class: "card" }, h("span", { class: "card-label" }, "Tokens"), h("span", { class: "card-value" }, `${fmt.int(f.input_tokens)} in`), h("span", { class: "card-note" }, `~${fmt.int(f.expected_output_tokens)} expected out`))),
    h("p", { class: "why" }, whyChosen(cands, decision.preference)),
    h("p", { class: "muted" }, "Reason header: ", h("code", null, decision.reason)),
    holder,
  ];
}

async function streamAnswer(body, out) {
  const answer = h("pre", { class: "answer", id: "answer" });
  const meta = h("p", { class: "muted", id: "answer-meta" }, "Waiting for the first token…");
  replace(out, meta, answer);
  const started = performance.now();
  let firstToken = null;
  let usage = null;
  const response = await call("POST", "/v1/chat/completions", { body: { ...body, stream: true, stream_options: { include_usage: true } }, headers: { Accept: "text/event-stream" } });
  const id = response.headers.get("x-request-id");
  const model = response.headers.get("x-switchyard-model");
  const provider = response.headers.get("x-switchyard-provider");
  for await (const { event, data } of readEvents(response)) {
    if (data === "[DONE]") break;
    const chunk = JSON.parse(data);
    if (event === "error" || chunk.error) throw new Error(chunk.error?.message || "the stream failed");
    const delta = chunk.choices?.[0]?.delta?.content;
    if (delta) {
      if (firstToken === null) firstToken = performance.now() - started;
      answer.append(delta);
    }
    if (chunk.usage) usage = chunk.usage;
  }
  const total = performance.now() - started;
  replace(meta, `${model || "?"} via ${provider || "?"} · first token ${fmt.ms(firstToken)} · total ${fmt.ms(total)}`,
    usage ? ` · ${fmt.int(usage.prompt_tokens)} in / ${fmt.int(usage.completion_tokens)} out · ${fmt.usd(usage.cost_usd)}` : "",
    id ? [" · ", navLink(`/console/requests/${encodeURIComponent(id)}`, "receipt")] : "");
}

export async function renderPlayground(page) {
  const models = (await getJSON("/v1/models")).data;
  const prompt = h("textarea", { id: "prompt", rows: 6, placeholder: "Type a prompt, e.g. \"Write a Python function that merges two sorted lists.\"" });
  const pref = h("select", { id: "preference" }, PREFERENCES.map(([v, label]) => h("option", { value: v }, label)));
  const pool = h("select", { id: "pool", multiple: true, size: 8, "aria-label": "Model pool" }, models.map((m) => h("option", { value: m.id }, m.id)));
  const result = h("div", { id: "route-result" }, emptyState("No ranking yet.", "Type a prompt and press Rank models: every model in the pool is scored, and nothing is sent upstream."));
  const out = h("div", { id: "stream-out" });
  const status = h("p", { class: "error-text", role: "alert", id: "playground-error" });
  const read = () => {
    const text = prompt.value.trim();
    if (!text) throw new Error("Type a prompt first.");
    return requestBody(text, [...pool.selectedOptions].map((o) => o.value), pref.value);
  };
  const run = (fn) => async (event) => {
    event.preventDefault();
    status.textContent = "";
    try {
      await fn();
    } catch (error) {
      status.textContent = error.param ? `${error.message} (${error.param})` : error.message || String(error);
    }
  };
  const rank = run(async () => replace(result, ...ranking(await postJSON("/v1/route", read()))));
  const send = run(async () => { const body = read(); await rank(new Event("submit")); await streamAnswer(body, out); });
  page.append(
    h("div", { class: "page-head" }, h("h1", null, "Playground")),
    h("p", { class: "muted" }, "See how auto routing ranks models for a prompt. Leave the pool empty to consider every live model; Ctrl/⌘-click to pick several."),
    h("form", { class: "playground", id: "playground-form", onsubmit: rank },
      h("div", { class: "pg-prompt" }, h("label", { for: "prompt" }, "Prompt"), prompt),
      h("div", { class: "pg-options" }, h("label", { for: "preference" }, "Preference"), pref, h("label", { for: "pool" }, "Pool"), pool,
        h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary", id: "rank" }, "Rank models"),
          h("button", { type: "button", id: "send", onclick: send }, "Send and stream")))),
    status, out, result);
  return null;
}
