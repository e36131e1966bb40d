// Virtual keys (admin only): spend against budget, issue a key (its secret shown once), revoke one.
import { ApiError, call, currentSession, getJSON, postJSON } from "../api.js";
import { chip, code, emptyState, h, replace } from "../dom.js";
import * as fmt from "../format.js";

const PERIODS = ["day", "week", "month"];

function spendCell(k) {
  if (k.budget_usd === null || k.budget_usd === undefined) return h("span", null, `${fmt.usd(k.spend_usd)} spent · no budget`);
  const share = k.budget_usd > 0 ? Math.min(k.spend_usd / k.budget_usd, 1) : 1;
  const bar = h("span", { class: "spend-bar", title: `${fmt.pct(share)} of the budget` },
    h("span", { class: ["spend-fill", share >= 0.9 && "spend-high"] }));
  bar.firstChild.style.width = `${(share * 100).toFixed(1)}%`; // a style property, not parsed markup
  return h("span", { class: "spend" }, bar, ` ${fmt.usd(k.spend_usd)} of ${fmt.usd(k.budget_usd)} / ${k.budget_period || "total"}`);
}

function limits(k) {
  const parts = [k.rpm && `${fmt.int(k.rpm)} req/min`, k.tpm && `${fmt.int(k.tpm)} tok/min`, k.max_parallel && `${fmt.int(k.max_parallel)} parallel`];
  return parts.filter(Boolean).join(" · ") || fmt.DASH;
}

function cacheText(k) {
  if (!k.cache) return "config";
  if (!k.cache.enabled) return "off";
  return k.cache.ttl_s ? `on · ${fmt.int(k.cache.ttl_s)} s` : "on";
}

function field(label, input, hint) {
  return h("label", { class: "key-field" }, h("span", null, label), input, hint ? h("small", { class: "muted" }, hint) : null);
}

/** The form's values as the API's body: blanks are left out; numbers stay numbers. */
function formBody(form) {
  const body = { name: form.name.value.trim() };
  const number = (name, parse) => { const v = form[name].value.trim(); if (v !== "") body[name] = parse(v); };
  number("budget_usd", Number);
  if (body.budget_usd !== undefined) body.budget_period = form.budget_period.value;
  number("rpm", (v) => Number.parseInt(v, 10));
  number("tpm", (v) => Number.parseInt(v, 10));
  number("max_parallel", (v) => Number.parseInt(v, 10));
  const models = form.models.value.split(/[\s,]+/).filter(Boolean);
  if (models.length) body.models = models;
  if (form.cache.value) {  // blank follows the gateway's config
    body.cache = { enabled: form.cache.value === "on" };
    const ttl = form.cache_ttl_s.value.trim();
    if (body.cache.enabled && ttl !== "") body.cache.ttl_s = Number(ttl);
  }
  return body;
}

function createForm(onCreated) {
  const input = (name, props) => h("input", { name, id: `key-${name.replaceAll("_", "-")}`, ...props });
  const form = h("form", { id: "key-form", class: "key-form" },
    field("Name", input("name", { required: true, maxlength: 64, pattern: "[A-Za-z0-9_.\\-]+", placeholder: "team-search" })),
    field("Budget (USD)", input("budget_usd", { type: "number", min: 0, step: "0.01", placeholder: "none" })),
    field("Budget period", h("select", { name: "budget_period", id: "key-budget-period" }, PERIODS.map((p) => h("option", { value: p, selected: p === "month" }, p)))),
    field("Requests / min", input("rpm", { type: "number", min: 1, step: 1, placeholder: "no limit" })),
    field("Tokens / min", input("tpm", { type: "number", min: 1, step: 1, placeholder: "no limit" })),
    field("Max parallel", input("max_parallel", { type: "number", min: 1, step: 1, placeholder: "no limit" })),
    field("Models allowed", input("models", { placeholder: "every model" }), "slugs or patterns, comma-separated: acme/*, openai/gpt-4o"),
    field("Answer cache", h("select", { name: "cache", id: "key-cache" },
      [["", "as configured"], ["on", "on"], ["off", "off"]].map(([v, t]) => h("option", { value: v }, t))),
    "the key's default; a request's own cache setting still wins"),
    field("Cache TTL (s)", input("cache_ttl_s", { type: "number", min: 1, step: 1, placeholder: "config's" })),
    h("div", { class: "buttons" }, h("button", { type: "submit", class: "primary", id: "key-create" }, "Create key")));
  const message = h("p", { class: "error-text", id: "key-error", role: "alert" });
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    message.textContent = "";
    try {
      onCreated(await postJSON("/v1/keys", formBody(form)));
      form.reset();
      form.budget_period.value = "month"; // reset() forgets a selection made by property
    } catch (error) {
      message.textContent = error.message;
    }
  });
  return [form, message];
}

/** The secret, shown this once: it is not kept here, and no later answer carries it. */
function secretBox(created) {
  const box = h("div", { class: "secret-box", id: "key-secret", role: "status" },
    h("strong", null, `Key ${created.name} created. Copy its secret now: it will not be shown again.`),
    h("p", null, code(created.key)),
    h("button", { type: "button", id: "key-secret-done", onclick: () => box.remove() }, "I have copied it"));
  return box;
}

function revokeCell(k, reload, status) {
  if (k.revoked) return chip("revoked", "bad");
  const cell = h("span", { class: "revoke" });
  const ask = () => replace(cell, h("span", null, `Revoke ${k.name}? Requests with it will be refused. `),
    h("button", { type: "button", class: "danger", dataset: { confirm: k.id }, onclick: revoke }, "Revoke"),
    " ", h("button", { type: "button", onclick: () => replace(cell, start) }, "Cancel"));
  const start = h("button", { type: "button", dataset: { revoke: k.id }, onclick: ask }, "Revoke…");
  async function revoke() {
    try {
      await call("DELETE", `/v1/keys/${encodeURIComponent(k.id)}`);
      reload();
    } catch (error) {
      status.textContent = error.message;
    }
  }
  return replace(cell, start);
}

export async function renderKeys(page) {
  page.append(h("h1", null, "Keys"));
  if (!currentSession().admin || !currentSession().signedIn) {
    page.append(emptyState("Keys are managed with an admin key.",
      "Sign in with a key from server.admin_keys or SWITCHYARD_ADMIN_KEYS to list, create and revoke virtual keys."));
    return;
  }
  const status = h("p", { class: "error-text", id: "keys-status", role: "alert" });
  const list = h("div", { id: "keys-list" });
  const secret = h("div");
  async function reload() {
    let keys;
    try {
      keys = (await getJSON("/v1/keys")).data;
    } catch (error) {
      if (error instanceof ApiError && error.status === 401) throw error;
      status.textContent = error.message;
      return;
    }
    if (!keys.length) {
      replace(list, emptyState("No virtual keys yet.", "Create one below: it gets its own budget, rate limits and models."));
      return;
    }
    replace(list, h("table", { class: "grid-table", id: "keys-table" },
      h("thead", null, h("tr", null, ["Name", "Spend", "Limits", "Models", "Cache", "Created", ""].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", null, keys.map((k) => h("tr", { dataset: { key: k.id }, class: k.revoked && "revoked" },
        h("td", null, k.name), h("td", null, spendCell(k)), h("td", null, limits(k)),
        h("td", null, k.models.length ? k.models.join(", ") : "all"), h("td", { class: "key-cache" }, cacheText(k)),
        h("td", null, fmt.dateTime(k.created_at)),
        h("td", null, revokeCell(k, reload, status)))))));
  }
  const [form, formError] = createForm((created) => {
    replace(secret, secretBox(created));
    reload();
  });
  page.append(status, list, secret, h("h2", null, "Create a key"), form, formError);
  await reload();
}
