// The page's client of the local API: JSON requests (the HttpOnly cookie set by the login URL
// authenticates them; the page never sees the token) and live event streams.
"use strict";

/** An error answer of the API: `{error: {message, kind, field, problems}}` and its status. */
export class ApiError extends Error {
  constructor(status, body) {
    const error = (body && body.error) || {};
    super(error.message || `the server answered ${status}`);
    this.status = status;
    this.kind = error.kind || (status === 401 ? "unauthorized" : "error");
    this.field = error.field || null;
    this.problems = Array.isArray(error.problems) ? error.problems : [];
  }
}

/** Called when the server says the page is not logged in (401). */
let onUnauthorized = () => {};
export function whenUnauthorized(handler) {
  onUnauthorized = handler;
}

/** `method path` with an optional JSON body; the answer's JSON, or throws an `ApiError`. */
export async function api(method, path, body) {
  const init = { method, headers: { Accept: "application/json" }, credentials: "same-origin" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    const error = new ApiError(0, { error: { message: `the server cannot be reached (${err.message})`, kind: "offline" } });
    throw error;
  }
  const text = await response.text();
  let json = null;
  try {
    json = text ? JSON.parse(text) : null;
  } catch {
    json = null;
  }
  if (!response.ok) {
    if (response.status === 401) onUnauthorized();
    throw new ApiError(response.status, json);
  }
  return json;
}

export const get = (path) => api("GET", path);
export const post = (path, body) => api("POST", path, body === undefined ? {} : body);

/** Every event kind the server sends (host/store/src/event.rs); each is an SSE `event:` name. */
export const EVENT_KINDS = [
  "order:created", "order:queued", "order:started", "stage:started", "order:output",
  "stage:completed", "stage:failed", "stage:skipped", "stage:cancelled",
  "order:awaiting-input", "approval:decided", "order:completed", "order:failed", "order:cancelled",
  "order:interrupted", "order:cancel-requested", "order:warning", "order:merged",
  "order:followup-started", "order:followup-completed", "order:followup-failed",
  "order:followup-cancelled", "event:unreadable",
];

/**
 * A live event stream (`text/event-stream`) that resumes exactly where it left off.
 *
 * The browser reconnects by itself after a dropped connection and sends `Last-Event-ID` (the
 * last `id:`, an event's sequence number). When it gives up — an error answer, the server
 * gone for good — the stream is opened again with `?after=<last seq>`, waiting longer each
 * time (at most 10 s). `onEvent(event)` gets each event's JSON once, in order; `onState(state)`
 * gets "live", "reconnecting" or "closed".
 */
export class LiveStream {
  constructor(path, { after = null, onEvent, onState }) {
    this.path = path;
    this.lastSeq = after;
    this.onEvent = onEvent;
    this.onState = onState || (() => {});
    this.source = null;
    this.retryTimer = null;
    this.delay = 500;
    this.closed = false;
    this.open();
  }

  url() {
    if (this.lastSeq === null || this.lastSeq === undefined) return this.path;
    const join = this.path.includes("?") ? "&" : "?";
    return `${this.path}${join}after=${encodeURIComponent(this.lastSeq)}`;
  }

  open() {
    if (this.closed) return;
    const source = new EventSource(this.url());
    this.source = source;
    const receive = (message) => this.receive(message);
    for (const kind of EVENT_KINDS) source.addEventListener(kind, receive);
    source.addEventListener("message", receive);
    source.addEventListener("open", () => {
      this.delay = 500;
      this.onState("live");
    });
    source.addEventListener("error", () => {
      if (this.closed) return;
      if (source.readyState === EventSource.CLOSED) {
        // The browser gave up: open it again ourselves, after the last event seen.
        this.onState("reconnecting");
        clearTimeout(this.retryTimer);
        this.retryTimer = setTimeout(() => this.open(), this.delay);
        this.delay = Math.min(this.delay * 2, 10000);
      } else {
        this.onState("reconnecting");
      }
    });
  }

  receive(message) {
    let event;
    try {
      event = JSON.parse(message.data);
    } catch {
      return;
    }
    const seq = Number(message.lastEventId || event.seq);
    if (Number.isFinite(seq)) {
      if (this.lastSeq !== null && seq <= this.lastSeq) return; // already seen
      this.lastSeq = seq;
    }
    this.onEvent(event);
  }

  close() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.source) this.source.close();
    this.onState("closed");
  }
}
