// The console's entry point: session check, the header, and a router over bookmarkable URLs.
import { ApiError, currentSession, getJSON, loadSession, onUnauthorized, signOut } from "./api.js";
import { errorBox, h, replace } from "./dom.js";
import { navigate } from "./nav.js";
import { renderLogin } from "./pages/login.js";
import { renderKeys } from "./pages/keys.js";
import { renderModel } from "./pages/model.js";
import { renderModels } from "./pages/models.js";
import { renderPlayground } from "./pages/playground.js";
import { renderReceipt } from "./pages/receipt.js";
import { renderRequests } from "./pages/requests.js";
import { renderUsage } from "./pages/usage.js";

const ROUTES = [
  [/^\/console\/?$/, "models", renderModels],
  [/^\/console\/models\/?$/, "models", renderModels],
  [/^\/console\/models\/(.+)$/, "models", renderModel],
  [/^\/console\/requests\/?$/, "requests", renderRequests],
  [/^\/console\/requests\/([^/]+)$/, "requests", renderReceipt],
  [/^\/console\/usage\/?$/, "usage", renderUsage],
  [/^\/console\/playground\/?$/, "playground", renderPlayground],
  [/^\/console\/keys\/?$/, "keys", renderKeys],
];

const main = document.getElementById("main");
let teardown = null; // the current page's cleanup (stops its polling)

function markNav(page) {
  for (const a of document.querySelectorAll("#nav a")) a.classList.toggle("active", a.dataset.page === page);
}

async function render() {
  if (teardown) teardown();
  teardown = null;
  const path = decodeURI(location.pathname);
  const match = ROUTES.map(([re, page, fn]) => [path.match(re), page, fn]).find(([m]) => m);
  if (!match) {
    replace(main, errorBox(new Error(`No console page at ${path}.`)));
    return;
  }
  const [m, page, fn] = match;
  markNav(page);
  const session = currentSession();
  if (session.keysRequired && !session.signedIn) {
    renderLogin(main, render);
    return;
  }
  const page$ = h("div", { class: "page", dataset: { page } });
  replace(main, page$);
  try {
    teardown = (await fn(page$, m.slice(1).map(decodeURIComponent), new URLSearchParams(location.search))) || null;
  } catch (error) {
    if (error instanceof ApiError && error.status === 401) return; // the login form has taken over
    page$.append(errorBox(error));
  }
}


document.addEventListener("click", (event) => {
  const a = event.target.closest("a[data-nav]");
  if (!a || event.metaKey || event.ctrlKey || event.shiftKey || event.button !== 0) return;
  event.preventDefault();
  navigate(a.getAttribute("href"));
});
window.addEventListener("popstate", render);
window.addEventListener("console:navigate", render);

onUnauthorized(async () => {
  await loadSession().catch(() => null);
  if (teardown) teardown();
  teardown = null;
  updateHeader();
  renderLogin(main, () => { updateHeader(); render(); });
});
window.addEventListener("console:signed-in", updateHeader);

function updateHeader() {
  const session = currentSession();
  const signedIn = session.keysRequired && session.signedIn;
  document.getElementById("sign-out").hidden = !signedIn;
  const who = document.getElementById("who");
  who.hidden = !signedIn;
  who.textContent = signedIn ? `${session.key}${session.admin ? " · admin" : ""}` : "";
  // the Keys page is for admin keys only (the open gateway has no key to manage keys with)
  document.querySelector("#nav a[data-page='keys']").hidden = !(signedIn && session.admin);
  who.title = session.admin ? "An admin key: every key's requests and usage" : "This key's own requests and usage";
}

async function showHealth() {
  const badge = document.getElementById("mode-badge");
  const dot = document.getElementById("health");
  try {
    const health = await getJSON("/health");
    badge.hidden = !health.simulated_providers;
    badge.textContent = "Simulated providers";
    badge.title = "No provider API keys were found: answers come from built-in simulated providers, not real models.";
    const open = (health.circuits && health.circuits.open) || 0;
    dot.className = open ? "health warn" : "health ok";
    dot.textContent = open ? `${open} circuit${open === 1 ? "" : "s"} open` : `${health.models} models live`;
  } catch {
    dot.className = "health bad";
    dot.textContent = "gateway unreachable";
  }
}

document.getElementById("sign-out").addEventListener("click", async () => {
  await signOut();
  updateHeader();
  render();
});

await loadSession().catch(() => null);
updateHeader();
showHealth();
setInterval(showHealth, 15_000);
render();
