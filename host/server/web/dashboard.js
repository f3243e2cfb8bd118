// The dashboard (#/ and #/cafe/<id>): the cafes, the orders newest first with their live
// status, what runs on the machine, and a form to register a repository as a cafe.
"use strict";

import { post } from "./api.js";
import { ACTIVE, WAITING, clip, fmtAgo, fmtUsd, h, replace, say, shortId, statusBadge } from "./dom.js";
import { cafeName, loadCafes, loadOrders, store, subscribe } from "./state.js";

const FILTERS = {
  all: { label: "All orders", test: () => true },
  active: { label: "Running", test: (o) => ACTIVE.has(o.status) },
  waiting: { label: "Awaiting input", test: (o) => WAITING.has(o.status) },
  done: { label: "Completed", test: (o) => o.status === "completed" || o.status === "followup" },
  failed: { label: "Failed or cancelled", test: (o) => o.status === "failed" || o.status === "cancelled" },
};

let filter = "all";

/** Shows the dashboard in `view` (of one cafe when `cafeId` is given); returns its teardown. */
export function showDashboard(view, cafeId) {
  const cafe = cafeId ? store.cafes.find((c) => c.id === cafeId || c.id.startsWith(cafeId)) : null;
  const title = cafe ? `Orders of ${cafe.name}` : "Orders";
  const rows = h("tbody", {});
  const agents = h("p", { id: "agents", class: "summary", role: "status" });
  const more = h("button", { type: "button", class: "secondary", text: "Load older orders", hidden: true, on: { click: () => loadOrders(true) } });
  const select = h(
    "select",
    { id: "status-filter", on: { change: (e) => { filter = e.target.value; renderRows(); } } },
    Object.entries(FILTERS).map(([key, f]) => h("option", { value: key, selected: key === filter, text: f.label })),
  );
  const cafesList = h("ul", { id: "cafes", class: "cafes" });
  const table = h(
    "table",
    { id: "orders-table", class: "orders" },
    h("caption", { class: "visually-hidden", text: title }),
    h(
      "thead",
      {},
      h("tr", {}, ["Order", "Status", "Cafe", "Recipe", "Prompt", "Cost", "Updated"].map((t) => h("th", { scope: "col", text: t }))),
    ),
    rows,
  );
  const empty = h("p", { class: "empty muted", hidden: true });

  replace(
    view,
    h(
      "section",
      { class: "dashboard", id: "dashboard" },
      h(
        "div",
        { class: "view-head" },
        h("h1", { text: title }),
        h("a", { class: "button primary", href: cafe ? `#/new?cafe=${encodeURIComponent(cafe.id)}` : "#/new", text: "New order" }),
      ),
      agents,
      h(
        "div",
        { class: "dash-grid" },
        h(
          "aside",
          { class: "panel", "aria-labelledby": "cafes-title" },
          h("h2", { id: "cafes-title", text: "Cafes" }),
          cafesList,
          addCafeForm(),
        ),
        h(
          "section",
          { class: "panel", "aria-labelledby": "orders-title" },
          h(
            "div",
            { class: "panel-head" },
            h("h2", { id: "orders-title", text: cafe ? cafe.name : "All cafes" }),
            h("label", { class: "inline" }, "Show ", select),
          ),
          h("div", { class: "table-wrap" }, table),
          empty,
          more,
        ),
      ),
    ),
  );

  function visible() {
    return [...store.orders.values()]
      .filter((o) => !cafe || o.cafeId === cafe.id)
      .filter(FILTERS[filter].test)
      .sort((a, b) => String(b.createdAt).localeCompare(String(a.createdAt)));
  }

  function row(order) {
    const link = h("a", { href: `#/orders/${encodeURIComponent(order.id)}`, class: "mono", text: shortId(order.id), "aria-label": `Order ${shortId(order.id)}` });
    return h(
      "tr",
      { data: { orderId: order.id, status: order.status } },
      h("td", { data: { label: "Order" } }, link),
      h("td", { data: { label: "Status" } }, statusBadge(order.status)),
      h("td", { data: { label: "Cafe" }, text: cafeName(order.cafeId) }),
      h("td", { data: { label: "Recipe" }, text: order.recipeId }),
      h("td", { class: "prompt", data: { label: "Prompt" }, title: order.prompt, text: clip(order.prompt || "—", 140) }),
      h("td", { class: "num", data: { label: "Cost" }, text: fmtUsd(order.costUsd) }),
      h("td", { data: { label: "Updated" }, title: order.updatedAt, text: fmtAgo(order.updatedAt) }),
    );
  }

  function renderRows() {
    const list = visible();
    replace(rows, list.map(row));
    empty.hidden = list.length > 0;
    empty.textContent = store.orders.size === 0 ? "No orders yet. Start one with “New order”." : "No orders match.";
    more.hidden = !store.nextCursor;
  }

  function updateRow(order) {
    const existing = rows.querySelector(`tr[data-order-id="${CSS.escape(order.id)}"]`);
    const wanted = (!cafe || order.cafeId === cafe.id) && FILTERS[filter].test(order);
    if (existing && wanted) existing.replaceWith(row(order));
    else if (existing || wanted) renderRows();
  }

  function renderCafes() {
    const counts = new Map();
    for (const order of store.orders.values()) {
      const c = counts.get(order.cafeId) || { active: 0, waiting: 0, done: 0, failed: 0 };
      if (ACTIVE.has(order.status)) c.active += 1;
      else if (WAITING.has(order.status)) c.waiting += 1;
      else if (order.status === "failed") c.failed += 1;
      else if (order.status === "completed" || order.status === "followup") c.done += 1;
      counts.set(order.cafeId, c);
    }
    if (store.cafes.length === 0) {
      replace(cafesList, h("li", { class: "muted", text: "No cafe yet: register a repository below, or run `codecafe init` in one." }));
      return;
    }
    replace(
      cafesList,
      store.cafes.map((c) => {
        const n = counts.get(c.id) || { active: 0, waiting: 0, done: 0, failed: 0 };
        const parts = [];
        if (n.active) parts.push(`${n.active} running`);
        if (n.waiting) parts.push(`${n.waiting} waiting`);
        if (n.done) parts.push(`${n.done} done`);
        if (n.failed) parts.push(`${n.failed} failed`);
        return h(
          "li",
          { data: { cafeId: c.id }, class: cafe && cafe.id === c.id ? "selected" : null },
          h("a", { href: `#/cafe/${encodeURIComponent(c.id)}`, class: "cafe-name", text: c.name, "aria-current": cafe && cafe.id === c.id ? "page" : null }),
          c.id === store.currentCafe ? h("span", { class: "tag", text: "last used" }) : null,
          h("div", { class: "muted small path", text: c.path }),
          h("div", { class: "small" }, `on ${c.currentBranch || "?"}`, parts.length ? ` · ${parts.join(" · ")}` : ""),
          h("a", { class: "small", href: `#/new?cafe=${encodeURIComponent(c.id)}`, text: "New order here", "aria-label": `New order on ${c.name}` }),
        );
      }),
    );
    if (cafe) cafesList.append(h("li", {}, h("a", { href: "#/", text: "Show every cafe's orders" })));
  }

  function renderAgents() {
    const s = store.status;
    if (!s || !s.agents) {
      agents.textContent = "";
      return;
    }
    const a = s.agents;
    const max = a.caps && a.caps.max ? ` of ${a.caps.max}` : "";
    agents.textContent = `${a.running} agent${a.running === 1 ? "" : "s"} running${max}` + (a.waiting ? ` · ${a.waiting} waiting for a slot` : "");
  }

  renderCafes();
  renderRows();
  renderAgents();
  const unsubscribe = subscribe((what, detail) => {
    if (what === "orders") {
      renderRows();
      renderCafes();
    } else if (what === "order") {
      updateRow(detail);
      renderCafes();
    } else if (what === "cafes") renderCafes();
    else if (what === "status") renderAgents();
  });
  const ticker = setInterval(() => {
    for (const cell of rows.querySelectorAll("td[data-label=Updated]")) cell.textContent = fmtAgo(cell.title);
  }, 30000);
  return () => {
    unsubscribe();
    clearInterval(ticker);
  };
}

/** A form that registers a repository (`POST /api/cafes`). */
function addCafeForm() {
  const input = h("input", { id: "cafe-path", name: "path", type: "text", required: true, placeholder: "/path/to/repository", autocomplete: "off", spellcheck: "false" });
  const message = h("p", { class: "form-message", role: "status" });
  const button = h("button", { type: "submit", text: "Register" });
  const form = h(
    "form",
    {
      class: "stack",
      on: {
        submit: async (e) => {
          e.preventDefault();
          button.disabled = true;
          say(message, "registering…");
          try {
            const report = await post("/api/cafes", { path: input.value.trim() });
            say(message, report.registered ? `registered ${report.cafe.name}` : `${report.cafe.name} is registered already`, "ok");
            input.value = "";
            await loadCafes();
          } catch (err) {
            say(message, err.message, "error");
          } finally {
            button.disabled = false;
          }
        },
      },
    },
    h("label", { for: "cafe-path", text: "Repository path" }),
    input,
    button,
    message,
  );
  return h("details", { class: "add-cafe" }, h("summary", { text: "Register a repository" }), form);
}


