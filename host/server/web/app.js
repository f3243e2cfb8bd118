// The page's entry point: checks that the browser is logged in (the cookie set by the URL
// `codecafe serve` prints), reads the cafes and orders, opens the global event stream, and
// shows the view the location's hash names:
//
//   #/                 the dashboard: cafes and orders, live
//   #/cafe/<id>        the dashboard of one cafe
//   #/new[?cafe=<id>]  a new order
//   #/orders/<id>      an order: stage graph, events, cost, diff, actions
"use strict";

import { get, whenUnauthorized } from "./api.js";
import { $, focusView, h, replace } from "./dom.js";
import { loadCafes, loadOrders, loadStatus, startGlobalStream, store, subscribe } from "./state.js";
import { showDashboard } from "./dashboard.js";
import { showNewOrder } from "./neworder.js";
import { showOrder } from "./order.js";

const view = $("#view");
let current = null; // the shown view's teardown

/** The message shown to a browser without the cookie. */
function showLoginNeeded() {
  if (current) current();
  current = null;
  if (store.stream) store.stream.close();
  document.body.dataset.auth = "needed";
  const example = `${location.origin}/?token=…`;
  replace(
    view,
    h(
      "section",
      { id: "login-needed", class: "panel notice", "aria-labelledby": "login-title" },
      h("h1", { id: "login-title", text: "Open the URL printed by codecafe serve" }),
      h(
        "p",
        {},
        "This page needs the server's token. Open the URL that ",
        h("code", { text: "codecafe serve" }),
        " printed when it started — it looks like ",
        h("code", { text: example }),
        " — once in this browser: it sets a cookie and brings you back here.",
      ),
      h(
        "p",
        { class: "muted" },
        "Lost it? Stop the server and start it again to see the URL, or read the token from ",
        h("code", { text: "server-token" }),
        " in codecafe's data directory.",
      ),
    ),
  );
  setLive("closed");
}

function setLive(state) {
  const el = $("#live");
  if (!el) return;
  el.dataset.state = state;
  el.textContent = { live: "live", reconnecting: "reconnecting…", connecting: "connecting…", closed: "offline" }[state] || state;
}

/** Shows the view the hash names. */
function route() {
  if (document.body.dataset.auth === "needed") return;
  if (current) current();
  current = null;
  const hash = location.hash.replace(/^#/, "") || "/";
  const [path, query] = hash.split("?");
  const params = new URLSearchParams(query || "");
  const parts = path.split("/").filter(Boolean).map(decodeURIComponent);
  for (const link of document.querySelectorAll("nav a")) {
    const target = link.getAttribute("href").replace(/^#/, "");
    const active = target === "/" ? parts.length === 0 || parts[0] === "cafe" : path.startsWith(target);
    if (active) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  if (parts.length === 0) current = showDashboard(view, null);
  else if (parts[0] === "cafe" && parts[1]) current = showDashboard(view, parts[1]);
  else if (parts[0] === "new") current = showNewOrder(view, params.get("cafe"));
  else if (parts[0] === "orders" && parts[1]) current = showOrder(view, parts[1]);
  else {
    replace(view, h("section", { class: "panel" }, h("h1", { text: "Nothing here" }), h("p", {}, h("a", { href: "#/", text: "Back to the orders" }))));
  }
}

async function boot() {
  whenUnauthorized(showLoginNeeded);
  subscribe((what, detail) => {
    if (what === "live") setLive(detail);
  });
  let server;
  try {
    server = await get("/api/server");
  } catch (err) {
    if (err.status === 401) return; // the login message is shown
    replace(view, h("section", { class: "panel error", role: "alert" }, h("h1", { text: "The server cannot be reached" }), h("p", { text: err.message })));
    return;
  }
  document.body.dataset.auth = "ok";
  const footer = $("#server-version");
  if (footer) footer.textContent = `codecafe ${server.version}`;
  // Read the lists, then follow every event stored after the position read first: nothing
  // that happens meanwhile is missed.
  try {
    await Promise.all([loadCafes(), loadOrders(), loadStatus()]);
  } catch (err) {
    if (err.status === 401) return;
  }
  startGlobalStream(server.eventSeq);
  window.addEventListener("hashchange", () => {
    route();
    focusView();
  });
  route();
}

boot();
