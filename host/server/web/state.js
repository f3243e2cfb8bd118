// What every view shares: the cafes, the orders listed so far, the machine's status, and the
// global event stream (`GET /api/events`) that keeps them live. Views subscribe to changes.
"use strict";

import { get, LiveStream } from "./api.js";
import { debounce } from "./dom.js";

export const store = {
  /** The registered cafes. */
  cafes: [],
  /** The id of the cafe used last. */
  currentCafe: null,
  /** Orders by id, as listed or refreshed. */
  orders: new Map(),
  /** How many orders exist in all. */
  total: 0,
  /** Where the next page of orders starts. */
  nextCursor: null,
  /** `GET /api/status`: running and waiting agents. */
  status: null,
  /** The global stream: "connecting", "live", "reconnecting". */
  live: "connecting",
  /** The global stream. */
  stream: null,
};

const listeners = new Set();

/** Calls `fn(what, detail)` on every change ("cafes", "orders", "order", "status", "live", "event"). */
export function subscribe(fn) {
  listeners.add(fn);
  return () => listeners.delete(fn);
}

export function notify(what, detail) {
  for (const fn of [...listeners]) {
    try {
      fn(what, detail);
    } catch (err) {
      console.error(err);
    }
  }
}

/** The cafe `id`'s name (or the short id). */
export function cafeName(id) {
  const cafe = store.cafes.find((c) => c.id === id);
  return cafe ? cafe.name : String(id || "").slice(0, 8);
}

export async function loadCafes() {
  const list = await get("/api/cafes");
  store.cafes = list.cafes || [];
  store.currentCafe = list.current || null;
  notify("cafes");
}

/** The newest orders (a first page, or the next one with `more`). */
export async function loadOrders(more = false) {
  let path = "/api/orders?limit=50";
  if (more && store.nextCursor) path += `&cursor=${encodeURIComponent(store.nextCursor)}`;
  const page = await get(path);
  if (!more) store.orders.clear();
  for (const order of page.orders || []) store.orders.set(order.id, order);
  store.total = page.total || store.orders.size;
  store.nextCursor = page.nextCursor || null;
  notify("orders");
}

export async function loadStatus() {
  try {
    store.status = await get("/api/status");
    notify("status");
  } catch {
    // shown as unknown
  }
}

const refreshStatus = debounce(loadStatus, 400);

/** Fetches order `id` again (a burst of events makes one request). */
const pending = new Map();
export function refreshOrder(id) {
  clearTimeout(pending.get(id));
  pending.set(
    id,
    setTimeout(async () => {
      pending.delete(id);
      try {
        const details = await get(`/api/orders/${encodeURIComponent(id)}`);
        const isNew = !store.orders.has(details.order.id);
        store.orders.set(details.order.id, details.order);
        if (isNew) store.total += 1;
        notify("order", details.order);
      } catch (err) {
        if (err.status === 404 && store.orders.delete(id)) notify("orders");
      }
    }, 250),
  );
}

/** The status an order is in right after an event of `kind`, as far as the event tells. */
export function statusAfter(kind, status) {
  const followup = String(status || "").startsWith("followup");
  switch (kind) {
    case "order:created":
      return "created";
    case "order:started":
      return "running";
    case "order:awaiting-input":
      return followup ? "followup-awaiting-input" : "awaiting-input";
    case "order:completed":
      return "completed";
    case "order:failed":
      return "failed";
    case "order:cancelled":
      return "cancelled";
    case "order:followup-started":
      return "followup-running";
    case "order:followup-completed":
    case "order:followup-failed":
    case "order:followup-cancelled":
      return "followup";
    case "stage:started":
      // A retry starts with its first stage (no `order:started`).
      if (["created", "failed", "cancelled"].includes(status)) return "running";
    // falls through
    case "order:output":
      // A stage answered continues its run: its output is the first sign.
      if (status === "awaiting-input") return "running";
      if (status === "followup-awaiting-input") return "followup-running";
      return status;
    default:
      return status;
  }
}

/** Kinds after which the order's stored state is worth reading again. */
const CHANGES_ORDER = new Set([
  "order:created", "order:queued", "order:started", "stage:completed", "stage:failed",
  "order:awaiting-input", "order:completed", "order:failed", "order:cancelled",
  "order:interrupted", "order:merged", "order:followup-started", "order:followup-completed",
  "order:followup-failed", "order:followup-cancelled",
]);

function onGlobalEvent(event) {
  const order = store.orders.get(event.orderId);
  if (order) {
    const status = statusAfter(event.kind, order.status);
    if (status !== order.status) {
      store.orders.set(order.id, { ...order, status, updatedAt: event.at });
      notify("order", store.orders.get(order.id));
    }
  }
  if (!order || CHANGES_ORDER.has(event.kind)) refreshOrder(event.orderId);
  if (event.kind.startsWith("stage:") || CHANGES_ORDER.has(event.kind)) refreshStatus();
  notify("event", event);
}

/** Opens the global stream after event `after` (the server's position when the lists were read). */
export function startGlobalStream(after) {
  if (store.stream) store.stream.close();
  store.stream = new LiveStream("/api/events", {
    after,
    onEvent: onGlobalEvent,
    onState: (state) => {
      store.live = state;
      notify("live", state);
    },
  });
}
