// Sign in: the key is posted once to /console/session and exchanged for an HttpOnly cookie.
// It lives only in the password field until then, never in a URL or in storage.
import { signIn } from "../api.js";
import { h, replace } from "../dom.js";

export function renderLogin(main, onSignedIn) {
  const input = h("input", {
    type: "password", id: "login-key", name: "key", autocomplete: "off", spellcheck: "false",
    placeholder: "sk-…", required: true, "aria-label": "Gateway API key",
  });
  const message = h("p", { class: "login-error", role: "alert", id: "login-error" });
  const button = h("button", { type: "submit", class: "primary", id: "login-submit" }, "Sign in");
  const form = h("form", { class: "login-card", id: "login-form" },
    h("h1", null, "Sign in to the console"),
    h("p", { class: "muted" }, "This gateway requires an API key. Paste one of its keys (a virtual key issued by POST /v1/keys, "
      + "or one from server.api_keys or SWITCHYARD_API_KEYS); "
      + "it is exchanged for a session cookie that scripts cannot read, and is not stored."),
    h("label", { for: "login-key" }, "Gateway API key"), input, message, button);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    message.textContent = "";
    try {
      await signIn(input.value);
      input.value = "";
      window.dispatchEvent(new Event("console:signed-in"));
      onSignedIn();
    } catch (error) {
      message.textContent = error.message || String(error);
      input.select();
    } finally {
      button.disabled = false;
    }
  });
  replace(main, h("div", { class: "page login" }, form));
  input.focus();
}
