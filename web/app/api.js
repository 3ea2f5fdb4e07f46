// The API client: one origin, the bearer token in memory (and in sessionStorage, so a
// reload keeps this tab signed in; it never goes into a URL, a cookie or localStorage),
// the idle timeout mirrored in the tab, and the API's error shape as an exception.

const TOKEN_KEY = "tally.session";

/**
 * @typedef {{ token: string, idleSeconds: number, expiresAt: string }} StoredSession
 * @typedef {{ code: string, message: string, details?: Record<string, unknown> }} ErrorBody
 */

/** Thrown for every non-2xx reply: the API's `{error: {code, message, details}}`. */
export class ApiError extends Error {
  /**
   * @param {number} status
   * @param {ErrorBody} error
   * @param {Record<string, unknown>} body the whole reply (a `change_token` travels there)
   * @param {string | null} retryAfter
   */
  constructor(status, error, body, retryAfter) {
    super(error.message);
    this.status = status;
    this.code = error.code;
    this.details = error.details || {};
    this.body = body;
    this.retryAfter = retryAfter;
  }
}

/** @type {StoredSession | null} */
let session = readStored();
/** @type {ReturnType<typeof setTimeout> | undefined} */
let idleTimer;
/** @type {(reason: string) => void} */
let onSignedOut = () => {};

/** @returns {StoredSession | null} */
function readStored() {
  try {
    const raw = sessionStorage.getItem(TOKEN_KEY);
    if (!raw) return null;
    const parsed = JSON.parse(raw);
    return typeof parsed.token === "string" ? parsed : null;
  } catch {
    return null;
  }
}

/** What happens when the session ends on its own (idle timeout, allowlist, revocation). */
export function whenSignedOut(/** @type {(reason: string) => void} */ handler) {
  onSignedOut = handler;
}

export function signedIn() {
  return session !== null;
}

/** Keeps a new session for this tab. */
export function startSession(/** @type {{token: string, idle_timeout_seconds: number, expires_at: string}} */ reply) {
  session = { token: reply.token, idleSeconds: reply.idle_timeout_seconds, expiresAt: reply.expires_at };
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(session));
  armIdleTimer();
}

/** Forgets the session in this tab (the server's copy is ended by the caller). */
export function dropSession() {
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  clearTimeout(idleTimer);
}

/** The server ends a session after `idleSeconds` without a request; so does the tab. */
function armIdleTimer() {
  clearTimeout(idleTimer);
  if (!session) return;
  const minutes = Math.round(session.idleSeconds / 60);
  idleTimer = setTimeout(() => {
    dropSession();
    onSignedOut(`You were signed out after ${minutes} minutes without activity. Sign in again to continue.`);
  }, session.idleSeconds * 1000);
}

/**
 * One call. `query` values that are empty are left out; arrays repeat the key. `body`
 * is sent as JSON; `upload` as it is, with its content type (and `Content-Encoding`
 * when it is compressed).
 * @param {string} method
 * @param {string} path
 * @param {{ body?: unknown, upload?: { data: Blob, type: string, encoding?: string }, query?: Record<string, string | string[] | undefined | null> }} [options]
 * @returns {Promise<any>}
 */
export async function call(method, path, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  /** @type {RequestInit} */
  const init = { method, headers, cache: "no-store", credentials: "omit" };
  if (options.body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(options.body);
  } else if (options.upload) {
    headers["Content-Type"] = options.upload.type;
    if (options.upload.encoding) headers["Content-Encoding"] = options.upload.encoding;
    init.body = options.upload.data;
  }
  const response = await fetch(urlOf(path, options.query), init);
  const hadSession = session !== null;
  if (hadSession) armIdleTimer();
  if (response.status === 204 || response.status === 202 && response.headers.get("content-length") === "0") {
    return null;
  }
  return replyOf(response, hadSession);
}

/**
 * A URL of this origin with `query` (values that are empty are left out; arrays repeat
 * the key).
 * @param {string} path @param {Record<string, string | string[] | undefined | null>} [query]
 */
function urlOf(path, query = {}) {
  const url = new URL(path, location.origin);
  for (const [key, value] of Object.entries(query)) {
    for (const v of Array.isArray(value) ? value : [value]) {
      if (v !== undefined && v !== null && v !== "") url.searchParams.append(key, v);
    }
  }
  return url;
}

/**
 * Downloads a CSV of a series or list (`format=csv`; the reply's
 * `Content-Disposition` names the file). A plain link cannot carry the bearer token and
 * the token never goes into a URL, so the file is fetched with the header like any call
 * and handed to the browser as a Blob URL, revoked once saved.
 * @param {string} path
 * @param {Record<string, string | string[] | undefined | null>} [query]
 * @param {string} [fallbackName] the file name when the reply names none
 * @returns {Promise<string>} the file's name
 */
export async function downloadCsv(path, query = {}, fallbackName = "tally.csv") {
  /** @type {Record<string, string>} */
  const headers = { Accept: "text/csv" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  const response = await fetch(urlOf(path, { ...query, format: "csv" }), { method: "GET", headers, cache: "no-store", credentials: "omit" });
  const hadSession = session !== null;
  if (hadSession) armIdleTimer();
  if (!response.ok) {
    await replyOf(response, hadSession);
  }
  // Anything but CSV (a route that does not offer it) is not saved as a .csv file.
  if (!(response.headers.get("content-type") || "").startsWith("text/csv")) {
    throw new ApiError(response.status, { code: "not_acceptable", message: "This table cannot be downloaded as CSV." }, {}, null);
  }
  const blob = await response.blob();
  const disposition = response.headers.get("content-disposition") || "";
  const named = /filename="?([^";]+)"?/.exec(disposition);
  const name = named ? named[1] : fallbackName;
  const href = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = href;
  a.download = name;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(href), 1000);
  return name;
}

/**
 * The JSON of a reply, or the API's error as an `ApiError` (a session the server ended
 * is dropped here, whichever call found out).
 * @param {Response} response @param {boolean} hadSession
 * @returns {Promise<any>}
 */
async function replyOf(response, hadSession) {
  const text = await response.text();
  /** @type {any} */
  let body = null;
  try {
    body = text ? JSON.parse(text) : null;
  } catch {
    body = null;
  }
  if (response.ok) return body;
  const error = body && body.error ? body.error : { code: "unavailable", message: "Tally did not answer as expected. Try again." };
  const failure = new ApiError(response.status, error, body || {}, response.headers.get("retry-after"));
  if (hadSession && failure.code === "unauthenticated") {
    dropSession();
    onSignedOut("Your session has ended (it was idle too long, signed out elsewhere, or expired). Sign in again.");
  } else if (hadSession && failure.code === "ip_not_allowed") {
    dropSession();
    onSignedOut("Your network address is not on your company's IP allowlist, so Tally signed you out. Connect from an allowed network or ask an admin.");
  }
  throw failure;
}

/** Signs out here and on the server (the session ends at once). */
export async function signOut() {
  if (session) {
    try {
      await call("DELETE", "/v1/sessions/current");
    } catch {
      // Already ended on the server: nothing to do.
    }
  }
  dropSession();
}

if (session) armIdleTimer();
