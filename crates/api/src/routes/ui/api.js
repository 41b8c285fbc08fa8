// Talking to the songrec JSON API: one fetch helper that turns every failure into an ApiError
// with a kind the views can branch on, and channels that keep slow, stale answers from
// overwriting newer ones.

/** Why a request failed: what the page shows depends on it. */
export const Failure = Object.freeze({
  DOWN: "down", // the server cannot be reached
  NO_MODEL: "no-model", // 503: no model loaded yet
  BUSY: "busy", // 503 for another reason (overload, timeout)
  NO_ROUTE: "no-route", // this server does not have the endpoint
  NOT_FOUND: "not-found", // the song, artist or page does not exist
  BAD_REQUEST: "bad-request",
  ABORTED: "aborted", // a newer request replaced this one
  OTHER: "other",
});

export class ApiError extends Error {
  constructor(message, kind, status = 0) {
    super(message);
    this.kind = kind;
    this.status = status;
  }
}

function kindOf(status, message) {
  if (status === 503) return /no model/i.test(message) ? Failure.NO_MODEL : Failure.BUSY;
  if (status === 404) return /^no route/i.test(message) ? Failure.NO_ROUTE : Failure.NOT_FOUND;
  if (status === 400 || status === 413 || status === 415 || status === 422) return Failure.BAD_REQUEST;
  return Failure.OTHER;
}

/**
 * GET `path` (or POST `json` to it) and return the decoded JSON body.
 * Throws ApiError; an aborted request throws kind ABORTED, which callers ignore.
 */
export async function api(path, { signal, json } = {}) {
  const init = { signal, headers: { accept: "application/json" } };
  if (json !== undefined) {
    init.method = "POST";
    init.headers["content-type"] = "application/json";
    init.body = JSON.stringify(json);
  }
  let response;
  let body = null;
  try {
    response = await fetch(path, init);
    const text = await response.text();
    if (text) body = JSON.parse(text);
  } catch (error) {
    if (error.name === "AbortError") throw new ApiError("replaced by a newer request", Failure.ABORTED);
    if (response) throw new ApiError(`the server answered ${response.status} with a body that is not JSON`, Failure.OTHER, response.status);
    throw new ApiError("The songrec server cannot be reached.", Failure.DOWN);
  }
  if (!response.ok) {
    const message = (body && typeof body.error === "string" && body.error) || `HTTP ${response.status}`;
    throw new ApiError(message, kindOf(response.status, message), response.status);
  }
  return body;
}

/**
 * A channel hands out tickets: starting a new request aborts the previous one, and a ticket
 * says whether its answer is still the newest one wanted.
 */
export function channel() {
  let current = null;
  return {
    start() {
      if (current) current.abort();
      const controller = new AbortController();
      current = controller;
      return {
        signal: controller.signal,
        get stale() {
          return current !== controller;
        },
      };
    },
    cancel() {
      if (current) current.abort();
      current = null;
    },
  };
}

/** The query string of `params`, leaving out empty values. */
export function query(params) {
  const search = new URLSearchParams();
  for (const [name, value] of Object.entries(params)) {
    if (value !== undefined && value !== null && value !== "" && value !== false) search.set(name, String(value));
  }
  const text = search.toString();
  return text ? `?${text}` : "";
}
