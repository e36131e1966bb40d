// Calls to the gateway's own API. The browser sends the session cookie by itself (same origin);
// writes add the CSRF token that GET /console/session handed out. Nothing is kept in storage.

export class ApiError extends Error {
  constructor(status, message, code, param) {
    super(message);
    this.status = status;
    this.code = code;
    this.param = param;
  }
}

const session = { keysRequired: false, signedIn: false, key: null, admin: true, csrf: null };
const listeners = new Set();

export const currentSession = () => ({ ...session });

/** Called with the ApiError when a call is refused for want of a key (401). */
export function onUnauthorized(fn) {
  listeners.add(fn);
}

function query(params) {
  const q = new URLSearchParams();
  for (const [k, v] of Object.entries(params || {})) {
    if (v === null || v === undefined || v === "") continue;
    for (const item of Array.isArray(v) ? v : [v]) q.append(k, String(item));
  }
  const text = q.toString();
  return text ? `?${text}` : "";
}

async function failure(response, path) {
  let message = `${response.status} ${response.statusText}`;
  let code = null;
  let param = null;
  try {
    const body = await response.json();
    if (body && body.error) ({ message = message, code = null, param = null } = body.error);
  } catch {
    // not JSON: keep the status line
  }
  const error = new ApiError(response.status, message, code, param);
  // a refused sign-in is answered by the form itself; any other 401 means the session is gone
  if (response.status === 401 && path !== "/console/session") for (const fn of listeners) fn(error);
  return error;
}

/** fetch with the console's headers; resolves to the Response, throws ApiError on a non-2xx status. */
export async function call(method, path, { params, body, signal, headers } = {}) {
  const init = { method, credentials: "same-origin", signal, headers: { Accept: "application/json", ...headers } };
  if (body !== undefined) {
    init.body = JSON.stringify(body);
    init.headers["Content-Type"] = "application/json";
  }
  if (method !== "GET" && session.csrf) init.headers["x-switchyard-csrf"] = session.csrf;
  const response = await fetch(path + query(params), init);
  if (!response.ok) throw await failure(response, path);
  return response;
}

export async function getJSON(path, params, options = {}) {
  return (await call("GET", path, { params, ...options })).json();
}

export async function postJSON(path, body, options = {}) {
  return (await call("POST", path, { body, ...options })).json();
}

/** GET that answers null when the endpoint does not exist in this build (404 with no such route). */
export async function getOptional(path, params, options = {}) {
  try {
    return await getJSON(path, params, options);
  } catch (error) {
    if (error instanceof ApiError && error.status === 404 && /^No route/.test(error.message)) return null;
    throw error;
  }
}

function remember(state) {
  session.keysRequired = Boolean(state.keys_required);
  session.signedIn = Boolean(state.signed_in);
  session.key = state.key || null;
  session.admin = Boolean(state.admin);
  session.csrf = state.csrf || null;
  return currentSession();
}

export async function loadSession() {
  return remember(await getJSON("/console/session"));
}

export async function signIn(key) {
  return remember(await postJSON("/console/session", { key }));
}

export async function signOut() {
  await call("DELETE", "/console/session");
  return remember({ keys_required: session.keysRequired, signed_in: false, key: null, admin: false, csrf: null });
}
