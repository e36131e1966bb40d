// Model details: each provider side by side (ZenMux's columns), then speed and errors from the log.
import { getJSON, getOptional } from "../api.js";
import { barChart, lineChart } from "../chart.js";
import { chip, emptyState, h, navLink, replace } from "../dom.js";
import * as fmt from "../format.js";
import { sortableTable } from "../table.js";
import { DAY_MS, HOUR_MS, errorRate, seriesBy, throughput } from "../usage_series.js";
import { correctionsSection } from "./learned.js";
import { CIRCUIT_LABEL, CLIENT_APIS, capabilityChips, wireLabel } from "./model_common.js";

const REFRESH_MS = 10_000;

function providerColumns(model) {
  return [
    { key: "provider", label: "Provider", value: (p) => p.provider,
      cell: (p) => h("div", { class: "model-cell" }, h("strong", null, p.provider), p.upstream_model ? h("span", { class: "slug" }, p.upstream_model) : null) },
    { key: "rank", label: "Order", numeric: true, title: "Order the gateway tries providers in right now", value: (p) => p.rank ?? null, cell: (p) => (p.rank === undefined ? "–" : `#${p.rank + 1}`) },
    { key: "context", label: "Context", numeric: true, value: (p) => p.context_window ?? null,
      cell: (p) => h("div", { class: "model-cell" }, fmt.compact(p.context_window), h("span", { class: "slug" }, `out ${fmt.compact(p.max_output_tokens)}`)) },
    { key: "features", label: "Features", cell: () => capabilityChips(model.capabilities) },
    { key: "api", label: "API compat.", title: "Client APIs that reach this model, and the provider's own wire format", cell: (p) => h("div", { class: "model-cell" },
      h("span", null, CLIENT_APIS.join(", ")), h("span", { class: "slug" }, `upstream ${wireLabel(p.wire)}`)) },
    { key: "ttft", label: "TTFT", numeric: true, title: "Live time to first token (smoothed)", value: (p) => p.first_token_ms ?? null, cell: (p) => fmt.ms(p.first_token_ms) },
    { key: "tps", label: "Throughput", numeric: true, title: "Live output tokens per second", value: (p) => p.tokens_per_s ?? null, cell: (p) => fmt.perSecond(p.tokens_per_s) },
    { key: "avail", label: "Availability", value: (p) => (p.available ? 1 - (p.error_rate || 0) : -1), cell: (p) => {
      if (!p.circuit) return h("span", { class: "muted" }, p.reason || "not configured");
      return h("span", { class: "circuit", dataset: { circuit: p.circuit } },
        chip(CIRCUIT_LABEL[p.circuit] || p.circuit, p.circuit === "closed" ? "ok" : p.circuit === "open" ? "bad" : "warn"),
        h("span", { class: "slug" }, ` ${fmt.pct(p.error_rate)} errors`));
    } },
    { key: "in", label: "Input $/1M", numeric: true, value: (p) => p.pricing?.input_per_million ?? null, cell: (p) => fmt.price(p.pricing?.input_per_million) },
    { key: "out", label: "Output $/1M", numeric: true, value: (p) => p.pricing?.output_per_million ?? null, cell: (p) => fmt.price(p.pricing?.output_per_million) },
  ];
}

function header(model) {
  const facts = [
    ["Vendor", model.owned_by], ["Context window", fmt.contextWindow(model.context_window)],
    ["Max output", fmt.tokens(model.max_output_tokens)], ["Catalogue quality", model.quality?.toFixed(2) ?? "–"],
    ["Cheapest input", fmt.pricePerM(model.pricing.input_per_million)], ["Cheapest output", fmt.pricePerM(model.pricing.output_per_million)],
  ];
  return [
    h("p", { class: "crumbs" }, navLink("/console/models", "Models"), " / ", model.id),
    h("div", { class: "page-head" }, h("h1", null, model.name), h("code", { class: "slug" }, model.id), capabilityChips(model.capabilities)),
    h("dl", { class: "facts" }, facts.map(([k, v]) => h("div", null, h("dt", null, k), h("dd", null, v)))),
  ];
}

async function logCharts(slug, providers, holder) {
  const now = Date.now();
  const since = (ms) => Math.floor((now - ms) / 1000);
  const [hour, day] = await Promise.all([
    getOptional("/v1/usage", { group_by: "provider", model: slug, since: since(HOUR_MS) }),
    getOptional("/v1/usage", { group_by: "provider,hour", model: slug, since: since(DAY_MS) }),
  ]);
  if (hour === null || day === null) {
    replace(holder, emptyState("Charts need the request log.", "This build has no GET /v1/usage; the live columns above still update."));
    return;
  }
  if (!day.data.length) {
    replace(holder, emptyState("No requests to this model in the last day.",
      "Send one (the Playground can) or point a client at it; TTFT, throughput and error rate per provider appear here."));
    return;
  }
  // one colour per provider on every chart, in the order of the comparison table
  const colorIndex = (provider) => Math.max(0, providers.indexOf(provider));
  const bars = (metric) => hour.data.map((r) => ({ label: r.group.provider, value: metric(r), colorIndex: colorIndex(r.group.provider) }));
  const lines = (metric) => seriesBy(day.data, "provider", metric).map((ser) => ({ ...ser, colorIndex: colorIndex(ser.name) }));
  const domain = [new Date(now - DAY_MS), new Date(now)];
  replace(holder,
    h("h3", null, "Last hour"),
    h("div", { class: "chart-row" },
      barChart(bars((r) => r.ttft_ms_p50), { title: "TTFT p50", format: fmt.ms, width: 400 }),
      barChart(bars(throughput), { title: "Output tok/s, end to end", format: fmt.perSecondShort, width: 400 }),
      barChart(bars(errorRate), { title: "Error rate", format: fmt.pct, width: 400 })),
    h("h3", null, "Last 24 hours, by hour"),
    h("div", { class: "chart-row" },
      lineChart(lines((r) => r.ttft_ms_p50), { title: "TTFT p50", yFormat: fmt.ms, domain, width: 400 }),
      lineChart(lines(throughput), { title: "Output tok/s, end to end", yFormat: fmt.perSecondShort, domain, width: 400 }),
      lineChart(lines(errorRate), { title: "Error rate", yFormat: fmt.pct, domain, width: 400 })));
}

export async function renderModel(page, [slug]) {
  let model = await getJSON(`/v1/models/${slug}`);
  const sort = { key: "rank", dir: 1 };
  const tableHolder = h("div", { class: "table-wrap" });
  const charts = h("div", { class: "charts", id: "model-charts" }, h("p", { class: "muted" }, "Loading charts…"));
  const draw = () => replace(tableHolder, sortableTable({
    id: "providers-table", columns: providerColumns(model), rows: model.providers, state: sort,
    onSort: (next) => { Object.assign(sort, next); draw(); }, rowAttrs: (p) => ({ dataset: { provider: p.provider } }),
  }));
  page.append(...header(model), h("h2", null, "Providers"), tableHolder, h("h2", null, "Speed and errors, from the request log"), charts);
  draw();
  const learned = await correctionsSection(model.id);
  if (learned) page.append(h("h2", null, "Learned from feedback"), learned);
  logCharts(model.id, model.providers.map((p) => p.provider), charts).catch((e) => replace(charts, emptyState("Charts could not load.", e.message)));
  let stopped = false;
  const timer = setInterval(async () => {
    const next = await getJSON(`/v1/models/${model.id}`).catch(() => null);
    if (next && !stopped) { model = next; draw(); }
  }, REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}
