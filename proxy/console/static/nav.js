// Moving between console pages without a page load (the router in app.js listens for the event).

export function navigate(url, { replaceState = false } = {}) {
  if (replaceState) history.replaceState(null, "", url);
  else history.pushState(null, "", url);
  window.dispatchEvent(new Event("console:navigate"));
}

/** Keep a page's filters in its URL (bookmarkable) without drawing the page again. */
export function setQuery(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params)) if (v !== null && v !== undefined && v !== "") q.set(k, v);
  const text = q.toString();
  history.replaceState(null, "", location.pathname + (text ? `?${text}` : ""));
}
