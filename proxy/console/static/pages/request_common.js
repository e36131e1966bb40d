// Pieces the Requests list and the receipt share.
import { chip, h } from "../dom.js";

const STATUS_KIND = { ok: "ok", error: "bad", partial: "warn", cancelled: "muted" };

export const statusChip = (status) => chip(status || "?", STATUS_KIND[status] || "muted");

export function outcomeChip(outcome) {
  const kind = outcome === "ok" ? "ok" : outcome === "cancelled" || outcome === "hedge_lost" ? "muted" : "bad";
  return chip(outcome || "?", kind);
}

/** {feature: "search"} -> chips "feature=search". */
export function tagChips(tags) {
  const entries = Object.entries(tags || {});
  if (!entries.length) return h("span", { class: "muted" }, "–");
  return h("span", { class: "chips" }, entries.map(([k, v]) => {
    const el = chip(`${k}=${v}`, "tag");
    el.title = `${k}=${v}`; // the full value where the chip is cut short
    return el;
  }));
}

/** "auto → openai/gpt-4o" when routing chose, else the model. */
export function modelCell(record) {
  const answered = record.model || record.model_requested || "–";
  const asked = record.model_requested;
  // "auto" or an alias says something; the same model with a provider pin (model:provider) does not
  if (asked && asked !== answered && !asked.startsWith(`${answered}:`)) {
    return h("div", { class: "model-cell" }, h("span", null, answered), h("span", { class: "slug" }, `asked: ${asked}`));
  }
  return h("span", null, answered);
}

export const failedAttempts = (record) => (record.attempts || []).filter((a) => a.outcome !== "ok");
