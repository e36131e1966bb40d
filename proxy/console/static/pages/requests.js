// Requests: the log, newest first, kept live by a cheap poll every 2 s while the tab is visible.
import { ApiError, currentSession, getJSON } from "../api.js";
import { emptyState, h, navLink, replace } from "../dom.js";
import * as fmt from "../format.js";
import { navigate, setQuery } from "../nav.js";
import { failedAttempts, modelCell, statusChip, tagChips } from "./request_common.js";

export const POLL_MS = 2000;
// Records are written when an answer ends but ordered by arrival, so a long answer lands behind
// newer ones: each poll looks back this far before the newest record seen, and duplicates merge.
export const LOOKBACK_S = 60;
const PAGE = 50;
const MAX_ROWS = 500;
const FILTERS = ["model", "provider", "status", "key", "tag"];

const ts = (r) => fmt.toDate(r.created_at)?.getTime() ?? 0;

function row(record, fresh) {
  const failed = failedAttempts(record).length;
  const attempts = (record.attempts || []).length;
  const tokensIn = record.usage?.prompt_tokens;
  const tokensOut = record.usage?.completion_tokens;
  return h("tr", { class: ["clickable", fresh && "fresh"], dataset: { id: record.id }, onclick: (e) => {
    if (!e.target.closest("a")) navigate(`/console/requests/${encodeURIComponent(record.id)}`);
  } },
  h("td", { title: fmt.dateTime(record.created_at) }, navLink(`/console/requests/${encodeURIComponent(record.id)}`, fmt.time(record.created_at))),
  h("td", null, modelCell(record)),
  h("td", null, record.provider || "–"),
  h("td", null, statusChip(record.status)),
  h("td", { class: "num", title: failed ? `${failed} failed attempt(s) before the answer` : null }, failed ? `${attempts} (${failed} failed)` : String(attempts)),
  h("td", { class: "num" }, fmt.ms(record.ttft_ms)),
  h("td", { class: "num" }, fmt.ms(record.duration_ms)),
  h("td", { class: "num" }, tokensIn === undefined ? "–" : `${fmt.compact(tokensIn)} / ${fmt.compact(tokensOut)}`),
  h("td", { class: "num" }, fmt.usd(record.usage?.cost_usd)),
  h("td", null, record.key || "–"),
  h("td", null, tagChips(record.tags)));
}

const HEAD = ["Time", "Model", "Provider", "Status", "Attempts", "TTFT", "Duration", "Tokens in / out", "Cost", "Key", "Tags"];

export async function renderRequests(page, _params, query) {
  const filters = Object.fromEntries(FILTERS.map((f) => [f, query.get(f) || ""]));
  const records = new Map();
  const fresh = new Set();
  let cursor = null;
  let paused = false;
  let lastPoll = null;
  let inFlight = false;

  const tbody = h("tbody", { id: "requests-body" });
  const table = h("table", { class: "grid-table", id: "requests-table" },
    h("thead", null, h("tr", null, HEAD.map((t, i) => h("th", { class: i >= 4 && i <= 8 ? "num" : null, scope: "col" }, t)))), tbody);
  const holder = h("div", { class: "table-wrap" }, table);
  const empty = h("div");
  const more = h("button", { type: "button", id: "load-older", hidden: true, onclick: () => loadOlder() }, "Load older");
  const live = h("span", { class: "live", id: "live-status" }, "Live");
  const pause = h("button", { type: "button", id: "pause", onclick: () => {
    paused = !paused;
    pause.textContent = paused ? "Resume" : "Pause";
    live.classList.toggle("paused", paused);
  } }, "Pause");

  const draw = () => {
    const sorted = [...records.values()].sort((a, b) => ts(b) - ts(a)).slice(0, MAX_ROWS);
    replace(tbody, sorted.map((r) => row(r, fresh.has(r.id))));
    fresh.clear();
    holder.hidden = !sorted.length;
    const filtered = FILTERS.some((f) => filters[f]);
    replace(empty, sorted.length ? null : filtered
      ? emptyState("No request matches these filters.", "Clear a filter, or wait: new requests appear here within 2 seconds.")
      : emptyState("No requests yet.", "Send one through the gateway (for example from the Playground, or any OpenAI SDK with base_url set to this gateway's /v1); it appears here within 2 seconds."));
  };

  const merge = (data, markFresh) => {
    let changed = false;
    for (const r of data) {
      const known = records.get(r.id);
      if (!known) { records.set(r.id, r); if (markFresh) fresh.add(r.id); changed = true; }
      else if (known.status !== r.status) { records.set(r.id, r); changed = true; }
    }
    return changed;
  };

  const params = () => Object.fromEntries(FILTERS.filter((f) => filters[f]).map((f) => [f, filters[f]]));

  const loadFirst = async () => {
    records.clear();
    const body = await getJSON("/v1/requests", { ...params(), limit: PAGE });
    merge(body.data, false);
    cursor = body.next_cursor;
    more.hidden = !cursor;
    lastPoll = Date.now();
    draw();
  };

  async function loadOlder() {
    if (!cursor) return;
    const body = await getJSON("/v1/requests", { ...params(), limit: PAGE, cursor });
    merge(body.data, false);
    cursor = body.next_cursor;
    more.hidden = !cursor;
    draw();
  }

  const poll = async () => {
    if (paused || document.hidden || inFlight) return;
    inFlight = true;
    try {
      const newest = Math.max(0, ...[...records.values()].map(ts));
      const since = newest ? Math.floor(newest / 1000) - LOOKBACK_S : undefined;
      const body = await getJSON("/v1/requests", { ...params(), limit: PAGE, since });
      if (merge(body.data, true)) draw();
      lastPoll = Date.now();
      live.textContent = "Live";
      live.classList.remove("stale");
    } catch {
      live.textContent = "Reconnecting…";
      live.classList.add("stale");
    } finally {
      inFlight = false;
    }
  };

  const inputs = FILTERS.map((f) => {
    const attrs = { id: `filter-${f}`, name: f, value: filters[f], placeholder: f === "tag" ? "tag  k:v" : f };
    if (f === "status") {
      return h("select", { id: "filter-status", name: "status" }, ["", "ok", "error", "partial", "cancelled"].map((s) =>
        h("option", { value: s, selected: s === filters.status }, s || "any status")));
    }
    const input = h("input", { type: "search", ...attrs, list: f === "model" ? "model-options" : null });
    const session = currentSession();
    if (f === "key" && session.keysRequired && !session.admin) { // an ordinary key sees its own requests only
      input.value = session.key || "";
      input.disabled = true;
      input.title = "This key sees only its own requests; an admin key sees every key's.";
    }
    return input;
  });
  const form = h("form", { class: "toolbar", id: "request-filters", onsubmit: (e) => e.preventDefault() }, inputs, live, pause);
  form.addEventListener("change", async () => {
    for (const input of inputs) filters[input.name] = input.value.trim();
    setQuery(filters);
    await loadFirst().catch(() => null);
  });
  const modelOptions = h("datalist", { id: "model-options" });

  page.append(
    h("div", { class: "page-head" }, h("h1", null, "Requests"), h("span", { class: "muted" }, `Times in ${fmt.zone()}`)),
    form, modelOptions, empty, holder, more);
  getJSON("/v1/models").then((m) => replace(modelOptions, m.data.map((x) => h("option", { value: x.id })))).catch(() => null);

  try {
    await loadFirst();
  } catch (error) {
    if (error instanceof ApiError && error.status === 404) {
      replace(page, h("h1", null, "Requests"), emptyState("This build has no request log.",
        "GET /v1/requests is not served by this gateway version, so there is nothing to list yet."));
      return null;
    }
    throw error;
  }
  const timer = setInterval(poll, POLL_MS);
  const ticker = setInterval(() => {
    if (!paused && lastPoll && !live.classList.contains("stale")) live.textContent = `Live · ${fmt.ago(new Date(lastPoll))}`;
  }, 1000);
  return () => { clearInterval(timer); clearInterval(ticker); };
}
