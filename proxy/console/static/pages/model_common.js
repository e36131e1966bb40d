// Pieces the Models and Model details pages share.
import { getJSON } from "../api.js";
import { chip, h } from "../dom.js";

/** GET /v1/models/{slug} for each id, a few at a time; a model that fails is left out. */
export async function fetchDetails(ids, parallel = 6) {
  const out = new Map();
  const queue = [...ids];
  const worker = async () => {
    while (queue.length) {
      const id = queue.shift();
      try {
        out.set(id, await getJSON(`/v1/models/${id}`));
      } catch {
        // a model removed since the list was read: its row keeps its catalogue values
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, ids.length) }, worker));
  return out;
}

export function capabilityChips(caps) {
  const names = [["tools", "tools"], ["vision", "vision"], ["json", "JSON"]];
  const on = names.filter(([k]) => caps && caps[k]);
  return on.length ? h("span", { class: "chips" }, on.map(([, label]) => chip(label))) : h("span", { class: "muted" }, "text only");
}

export const CIRCUIT_LABEL = { closed: "up", half_open: "probing", open: "down" };

/** "3/3 up" with a dot per provider coloured by its circuit; ratio for sorting. */
export function availability(detail) {
  const providers = (detail?.providers || []).filter((p) => p.circuit);
  if (!providers.length) return { ratio: null, node: h("span", { class: "muted" }, detail ? "no provider" : "…") };
  const up = providers.filter((p) => p.circuit === "closed").length;
  const dots = providers.map((p) => h("span", {
    class: ["dot", `circuit-${p.circuit}`], title: `${p.provider}: ${CIRCUIT_LABEL[p.circuit] || p.circuit}`,
  }));
  return { ratio: up / providers.length, node: h("span", { class: "avail" }, h("span", { class: "dots" }, dots), ` ${up}/${providers.length} up`) };
}

const WIRES = { openai: "OpenAI", anthropic: "Anthropic", gemini: "Gemini" };
export const wireLabel = (wire) => WIRES[wire] || wire || "–";

/** The client APIs that reach every model through this gateway, whatever the provider's own format. */
export const CLIENT_APIS = ["OpenAI", "Anthropic"];
