// DOM and formatting helpers shared by the page's modules.
//
// Everything the page shows that comes from the server — agent output above all — goes into
// the document as text (`textContent`, text nodes, attribute values), never as markup: `h`
// has no way to set innerHTML, and no module uses it.
"use strict";

/**
 * Makes an element: `h("button", {class: "x", type: "button", on: {click}}, "text", child)`.
 * Props: `class`, `text`, `data` (dataset entries), `on` (event listeners), `hidden`,
 * `disabled`, `checked`, `value`, `selected`, `open`; any other prop becomes an attribute
 * (never one starting with "on"). Children: nodes, strings (text nodes), arrays, or null.
 */
export function h(tag, props, ...children) {
  const el = document.createElement(tag);
  setProps(el, props);
  append(el, children);
  return el;
}

/** Same as `h`, for an SVG element. */
export function svg(tag, props) {
  const el = document.createElementNS("http://www.w3.org/2000/svg", tag);
  for (const [key, value] of Object.entries(props || {})) {
    if (value !== null && value !== undefined && !/^on/i.test(key)) {
      el.setAttribute(key, String(value));
    }
  }
  return el;
}

function setProps(el, props) {
  for (const [key, value] of Object.entries(props || {})) {
    if (value === null || value === undefined || value === false) continue;
    switch (key) {
      case "class":
        el.className = Array.isArray(value) ? value.filter(Boolean).join(" ") : value;
        break;
      case "text":
        el.textContent = String(value);
        break;
      case "data":
        for (const [name, v] of Object.entries(value)) {
          if (v !== null && v !== undefined) el.dataset[name] = String(v);
        }
        break;
      case "on":
        for (const [type, listener] of Object.entries(value)) el.addEventListener(type, listener);
        break;
      case "hidden":
      case "disabled":
      case "checked":
      case "selected":
      case "open":
      case "required":
      case "multiple":
        el[key] = Boolean(value);
        break;
      case "value":
        el.value = String(value);
        break;
      default:
        if (/^on/i.test(key)) throw new Error(`no inline handlers: ${key}`);
        el.setAttribute(key, value === true ? "" : String(value));
    }
  }
}

/** Appends children (nodes, strings, arrays, null) to `el`. */
export function append(el, children) {
  for (const child of children.flat(Infinity)) {
    if (child === null || child === undefined || child === false) continue;
    el.appendChild(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

/** Replaces the children of `el`. */
export function replace(el, ...children) {
  el.replaceChildren();
  return append(el, children);
}

/** The first element matching `selector` under `root` (default: the document). */
export const $ = (selector, root = document) => root.querySelector(selector);

/** The first 8 characters of an id, as the CLI shows it. */
export const shortId = (id) => String(id || "").slice(0, 8);

/** Text cut to `max` characters, saying how much was left out. */
export function clip(text, max) {
  const s = String(text ?? "");
  return s.length <= max ? s : `${s.slice(0, max)}… (${s.length - max} more characters)`;
}

const TOKENS = new Intl.NumberFormat("en-US");

/** A token count: 12,345. */
export const fmtTokens = (n) => (Number.isFinite(n) ? TOKENS.format(n) : "—");

/** US dollars, precise for small amounts: $0.0123, $1.20. */
export function fmtUsd(usd) {
  if (!Number.isFinite(usd)) return "—";
  if (usd === 0) return "$0.00";
  return usd < 0.1 ? `$${usd.toFixed(4)}` : `$${usd.toFixed(2)}`;
}

/** A duration in milliseconds: 850 ms, 12.3 s, 4 min 05 s, 1 h 02 min. */
export function fmtDuration(ms) {
  if (!Number.isFinite(ms) || ms < 0) return "";
  if (ms < 1000) return `${Math.round(ms)} ms`;
  const s = ms / 1000;
  if (s < 60) return `${s.toFixed(1)} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${String(Math.floor(s % 60)).padStart(2, "0")} s`;
  return `${Math.floor(m / 60)} h ${String(m % 60).padStart(2, "0")} min`;
}

/** A timestamp as local date and time. */
export function fmtTime(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? String(iso) : date.toLocaleString();
}

/** A timestamp relative to now: "just now", "5 min ago", else the date. */
export function fmtAgo(iso) {
  if (!iso) return "";
  const date = new Date(iso);
  const s = (Date.now() - date.getTime()) / 1000;
  if (Number.isNaN(s)) return String(iso);
  if (s < 45) return "just now";
  if (s < 3600) return `${Math.round(s / 60)} min ago`;
  if (s < 86400) return `${Math.round(s / 3600)} h ago`;
  return date.toLocaleDateString();
}

/** Words for an order status. */
export const STATUS_TEXT = {
  created: "created",
  running: "running",
  "awaiting-input": "awaiting input",
  completed: "completed",
  failed: "failed",
  cancelled: "cancelled",
  followup: "follow-up",
  "followup-running": "follow-up running",
  "followup-awaiting-input": "follow-up awaiting input",
};

/** A status badge (the status is in `data-status` too, for styles and tests). */
export function statusBadge(status, extra) {
  return h(
    "span",
    { class: "badge", data: { status } },
    STATUS_TEXT[status] || status,
    extra ? ` · ${extra}` : null,
  );
}

/** Order statuses in which an agent may be running. */
export const ACTIVE = new Set(["running", "followup-running"]);
/** Order statuses that wait for the user. */
export const WAITING = new Set(["awaiting-input", "followup-awaiting-input"]);
/** Order statuses in which nothing runs until the user acts. */
export const SETTLED = new Set(["completed", "failed", "cancelled", "followup"]);

/** Calls `fn` once, `ms` after the last of a burst of calls. */
export function debounce(fn, ms) {
  let timer = null;
  return (...args) => {
    clearTimeout(timer);
    timer = setTimeout(() => fn(...args), ms);
  };
}

/** A live region's message: `say(el, "saved")` (empty to clear). */
export function say(el, message, kind) {
  if (!el) return;
  el.textContent = message || "";
  el.dataset.kind = kind || "info";
}

/** Moves the focus to the view's heading, so keyboard and screen reader users start there. */
export function focusView() {
  const heading = document.querySelector("#view h1");
  if (heading) {
    heading.setAttribute("tabindex", "-1");
    heading.focus({ preventScroll: true });
  }
}
