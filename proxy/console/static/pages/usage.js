// Usage: spend, tokens, requests and error rate over time, by model, provider, key, API or tag.
import { ApiError, getJSON } from "../api.js";
import { lineChart } from "../chart.js";
import { emptyState, h, replace } from "../dom.js";
import * as fmt from "../format.js";
import { setQuery } from "../nav.js";
import { sortableTable } from "../table.js";
import { DAY_MS, HOUR_MS, buckets, errorRate, groupName, seriesBy, sumRows } from "../usage_series.js";

const RANGES = { "1h": [HOUR_MS, "hour"], "24h": [DAY_MS, "hour"], "7d": [7 * DAY_MS, "day"], "30d": [30 * DAY_MS, "day"] };
const DIMS = ["model", "provider", "key", "api", "tag"];
const REFRESH_MS = 30_000;

function card(label, value, note) {
  return h("div", { class: "card" }, h("span", { class: "card-label" }, label), h("span", { class: "card-value" }, value), note ? h("span", { class: "card-note" }, note) : null);
}

function totalsCards(rows) {
  const t = sumRows(rows);
  return h("div", { class: "cards", id: "usage-totals" },
    card("Spend", fmt.usd(t.cost_usd), t.failed_attempts_cost_usd ? `incl. ${fmt.usd(t.failed_attempts_cost_usd)} on failed attempts` : null),
    card("Tokens", fmt.compact(t.prompt_tokens + t.completion_tokens), `${fmt.compact(t.prompt_tokens)} in · ${fmt.compact(t.completion_tokens)} out`),
    card("Requests", fmt.int(t.requests)),
    card("Error rate", fmt.pct(t.requests ? t.errors / t.requests : null), `${fmt.int(t.errors)} error${t.errors === 1 ? "" : "s"}`));
}

function groupTable(rows, dim) {
  const columns = [
    { key: "group", label: dim, value: (r) => groupName(r.group, dim), cell: (r) => groupName(r.group, dim) },
    { key: "requests", label: "Requests", numeric: true, value: (r) => r.requests, cell: (r) => fmt.int(r.requests) },
    { key: "errors", label: "Error rate", numeric: true, value: errorRate, cell: (r) => `${fmt.pct(errorRate(r))} (${fmt.int(r.errors)})` },
    { key: "in", label: "Tokens in", numeric: true, value: (r) => r.prompt_tokens, cell: (r) => fmt.compact(r.prompt_tokens) },
    { key: "out", label: "Tokens out", numeric: true, value: (r) => r.completion_tokens, cell: (r) => fmt.compact(r.completion_tokens) },
    { key: "cost", label: "Spend", numeric: true, value: (r) => r.cost_usd, cell: (r) => fmt.usd(r.cost_usd) },
    { key: "failed", label: "Failed-attempt spend", numeric: true, value: (r) => r.failed_attempts_cost_usd, cell: (r) => fmt.usd(r.failed_attempts_cost_usd) },
    { key: "ttft", label: "TTFT p50 / p95", numeric: true, value: (r) => r.ttft_ms_p50, cell: (r) => `${fmt.ms(r.ttft_ms_p50)} / ${fmt.ms(r.ttft_ms_p95)}` },
    { key: "dur", label: "Duration p50 / p95", numeric: true, value: (r) => r.duration_ms_p50, cell: (r) => `${fmt.ms(r.duration_ms_p50)} / ${fmt.ms(r.duration_ms_p95)}` },
  ];
  const state = { key: "cost", dir: -1 };
  const holder = h("div", { class: "table-wrap" });
  const draw = () => replace(holder, sortableTable({ id: "usage-table", columns, rows, state, onSort: (n) => { Object.assign(state, n); draw(); } }));
  draw();
  return holder;
}

export async function renderUsage(page, _params, query) {
  const view = { range: RANGES[query.get("range")] ? query.get("range") : "24h", by: query.get("by") || "model", tag: query.get("tag") || "" };
  const body = h("div", { id: "usage-body" }, h("p", { class: "muted" }, "Loading…"));
  const tagInput = h("input", { type: "text", id: "usage-tag", placeholder: "tag name, e.g. feature", value: view.tag, hidden: view.by !== "tag" });
  const bySelect = h("select", { id: "usage-by" }, DIMS.map((d) => h("option", { value: d, selected: d === view.by }, `by ${d}`)));
  const rangeSelect = h("select", { id: "usage-range" }, Object.keys(RANGES).map((r) => h("option", { value: r, selected: r === view.range }, `last ${r}`)));

  const load = async () => {
    setQuery({ range: view.range, by: view.by, tag: view.by === "tag" ? view.tag : "" });
    const dim = view.by === "tag" ? `tag:${view.tag}` : view.by;
    if (view.by === "tag" && !view.tag) {
      replace(body, emptyState("Name a tag to group by.", "Requests carry tags from the body's metadata or the x-switchyard-tags header, e.g. feature=search."));
      return;
    }
    const [span, bucket] = RANGES[view.range];
    const now = Date.now();
    const since = Math.floor((now - span) / 1000);
    const [totals, series] = await Promise.all([
      getJSON("/v1/usage", { group_by: dim, since }),
      getJSON("/v1/usage", { group_by: `${dim},${bucket}`, since }),
    ]);
    if (!totals.data.length) {
      replace(body, totalsCards([]), emptyState(`No requests in the last ${view.range}.`, "Send traffic through the gateway (or try the Playground); spend and tokens appear here as requests are logged."));
      return;
    }
    const seriesDim = dim.startsWith("tag:") ? dim : view.by;
    const rows = series.data;
    const domain = [new Date(now - span), new Date(now)];
    const rank = (r) => r.cost_usd || r.requests;
    const zeroFill = buckets(domain[0], domain[1], bucket === "hour" ? HOUR_MS : DAY_MS);
    const chart = (metric, title, yFormat, fill = zeroFill) =>
      lineChart(seriesBy(rows, seriesDim, metric, { rank, zeroFill: fill }), { title, yFormat, domain, width: 600 });
    replace(body, totalsCards(totals.data),
      h("div", { class: "chart-grid" },
        chart((r) => r.cost_usd, `Spend per ${bucket}`, fmt.usd),
        chart((r) => r.prompt_tokens + r.completion_tokens, `Tokens per ${bucket}`, fmt.compact),
        chart((r) => r.requests, `Requests per ${bucket}`, fmt.int),
        chart(errorRate, "Error rate", fmt.pct, null)),
      h("h2", null, `By ${view.by === "tag" ? `tag ${view.tag}` : view.by}`), groupTable(totals.data, seriesDim));
  };

  const reload = () => load().catch((error) => replace(body, error instanceof ApiError && error.status === 404
    ? emptyState("This build has no usage API.", "GET /v1/usage is not served by this gateway version.")
    : emptyState("Usage could not load.", error.message)));
  bySelect.addEventListener("change", () => { view.by = bySelect.value; tagInput.hidden = view.by !== "tag"; reload(); });
  rangeSelect.addEventListener("change", () => { view.range = rangeSelect.value; reload(); });
  tagInput.addEventListener("change", () => { view.tag = tagInput.value.trim(); reload(); });

  page.append(h("div", { class: "page-head" }, h("h1", null, "Usage"), h("span", { class: "muted" }, `Times in ${fmt.zone()}`)),
    h("div", { class: "toolbar" }, rangeSelect, bySelect, tagInput), body);
  await reload();
  const timer = setInterval(reload, REFRESH_MS);
  return () => clearInterval(timer);
}
