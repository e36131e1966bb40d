// Virtual keys arrive with their own issue; until then this page says so (and the nav hides it).
import { emptyState, h } from "../dom.js";

export async function renderKeys(page) {
  page.append(h("h1", null, "Keys"),
    emptyState("Virtual keys are not available in this build.",
      "Gateway keys come from server.api_keys, server.api_keys_file or SWITCHYARD_API_KEYS; "
      + "this page will list, create and revoke virtual keys once the gateway supports them."));
}
