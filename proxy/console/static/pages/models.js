// Models: every live catalogue model with prices, context, capabilities, providers and live health.
import { getJSON, getOptional } from "../api.js";
import { emptyState, h, navLink, replace } from "../dom.js";
import * as fmt from "../format.js";
import { setQuery } from "../nav.js";
import { sortableTable } from "../table.js";
import { availability, capabilityChips, fetchDetails } from "./model_common.js";

const REFRESH_MS = 15_000;

function columns(live, p50) {
  const best = (m, field, pick) => {
    const values = (live.get(m.id)?.providers || []).map((p) => p[field]).filter((v) => v !== null && v !== undefined);
    return values.length ? pick(...values) : null;
  };
  const ttft = (m) => p50.get(m.id) ?? best(m, "first_token_ms", Math.min);
  return [
    { key: "name", label: "Model", value: (m) => m.name.toLowerCase(),
      cell: (m) => h("div", { class: "model-cell" }, navLink(`/console/models/${m.id}`, m.name), h("span", { class: "slug" }, m.id)) },
    { key: "vendor", label: "Vendor", value: (m) => m.owned_by, cell: (m) => m.owned_by },
    { key: "context", label: "Context", title: "Context window, tokens", numeric: true, value: (m) => m.context_window, cell: (m) => fmt.compact(m.context_window) },
    { key: "caps", label: "Capabilities", cell: (m) => capabilityChips(m.capabilities) },
    { key: "in", label: "Input $/1M", title: "USD per 1M input tokens (cheapest provider)", numeric: true,
      value: (m) => m.pricing.input_per_million, cell: (m) => fmt.price(m.pricing.input_per_million) },
    { key: "out", label: "Output $/1M", title: "USD per 1M output tokens (cheapest provider)", numeric: true,
      value: (m) => m.pricing.output_per_million, cell: (m) => fmt.price(m.pricing.output_per_million) },
    { key: "providers", label: "Prov.", title: "Providers configured for this model", numeric: true, value: (m) => m.providers.length, cell: (m) => String(m.providers.length) },
    { key: "avail", label: "Availability", title: "Providers whose circuit is closed, from live stats",
      value: (m) => availability(live.get(m.id)).ratio, cell: (m) => availability(live.get(m.id)).node },
    { key: "ttft", label: "TTFT p50", numeric: true, title: "Median time to first token over the last hour (live estimate until requests are logged)",
      value: ttft, cell: (m) => fmt.ms(ttft(m)) },
    { key: "tps", label: "Tokens/s", numeric: true, title: "Best provider's live tokens per second",
      value: (m) => best(m, "tokens_per_s", Math.max), cell: (m) => fmt.int(best(m, "tokens_per_s", Math.max)) },
  ];
}

function matches(m, filter) {
  const text = filter.q.trim().toLowerCase();
  if (text && !`${m.id} ${m.name}`.toLowerCase().includes(text)) return false;
  if (filter.vendor && m.owned_by !== filter.vendor) return false;
  for (const cap of filter.caps) if (!m.capabilities[cap]) return false;
  return true;
}

export async function renderModels(page, _params, query) {
  const filter = { q: query.get("q") || "", vendor: query.get("vendor") || "", caps: (query.get("caps") || "").split(",").filter(Boolean) };
  const sort = { key: query.get("sort") || "name", dir: Number(query.get("dir")) || 1 };
  const models = (await getJSON("/v1/models")).data;
  const live = new Map();
  const p50 = new Map();
  const tableHolder = h("div", { class: "table-wrap" });
  const count = h("span", { class: "muted", id: "model-count" });

  const draw = () => {
    setQuery({ q: filter.q, vendor: filter.vendor, caps: filter.caps.join(","), sort: sort.key === "name" ? "" : sort.key, dir: sort.dir === 1 ? "" : sort.dir });
    const rows = models.filter((m) => matches(m, filter));
    count.textContent = `${rows.length} of ${models.length} models`;
    if (!rows.length) {
      replace(tableHolder, emptyState("No model matches these filters.", "Clear the search box or the capability boxes to see every model."));
      return;
    }
    replace(tableHolder, sortableTable({
      id: "models-table", columns: columns(live, p50), rows, state: sort,
      onSort: (next) => { Object.assign(sort, next); draw(); },
      rowAttrs: (m) => ({ dataset: { model: m.id } }),
    }));
  };

  const vendors = [...new Set(models.map((m) => m.owned_by))].sort();
  const search = h("input", { type: "search", id: "model-search", placeholder: "Search models…", value: filter.q, oninput: (e) => { filter.q = e.target.value; draw(); } });
  const vendorSelect = h("select", { id: "vendor-filter", onchange: (e) => { filter.vendor = e.target.value; draw(); } },
    h("option", { value: "" }, "All vendors"), vendors.map((v) => h("option", { value: v, selected: v === filter.vendor }, v)));
  const capBoxes = ["tools", "vision", "json"].map((cap) => h("label", { class: "check" },
    h("input", { type: "checkbox", checked: filter.caps.includes(cap), onchange: (e) => {
      filter.caps = e.target.checked ? [...filter.caps, cap] : filter.caps.filter((c) => c !== cap);
      draw();
    } }), cap));

  page.append(
    h("div", { class: "page-head" }, h("h1", null, "Models"), count),
    h("p", { class: "muted" }, "Every model this gateway can serve right now. Prices are the cheapest configured provider's, per million tokens; availability and speed are live."),
    h("div", { class: "toolbar" }, search, vendorSelect, h("span", { class: "checks" }, "Needs:", capBoxes)),
    tableHolder,
  );
  if (!models.length) {
    replace(tableHolder, emptyState("No model is live.", "Set a provider's API key in the environment (for example OPENAI_API_KEY) or run with simulate: auto to try the simulated providers."));
    return null;
  }
  draw();

  let stopped = false;
  const refresh = async () => {
    const [details, usage] = await Promise.all([
      fetchDetails(models.map((m) => m.id)),
      getOptional("/v1/usage", { group_by: "model", since: Math.floor(Date.now() / 1000) - 3600 }).catch(() => null),
    ]);
    if (stopped) return;
    for (const [id, d] of details) live.set(id, d);
    p50.clear();
    for (const row of usage?.data || []) if (row.ttft_ms_p50 !== null && row.ttft_ms_p50 !== undefined) p50.set(row.group.model, row.ttft_ms_p50);
    draw();
  };
  await refresh();
  const timer = setInterval(refresh, REFRESH_MS);
  return () => { stopped = true; clearInterval(timer); };
}

