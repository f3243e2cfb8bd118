// The order page (#/orders/<id>): the order's state and branch, the question it asks, its
// stage graph with each stage's live state, the live event log, tokens and cost per stage and
// in total, the actions its status allows, and its diff.
//
// It reads the order and its plan, then follows the order's event stream from its first event
// (`GET /api/orders/{id}/events`; the browser resumes it with Last-Event-ID): the events build
// the stage graph and the log; the order is read again (debounced) when one changes its state.
"use strict";

import { LiveStream, get } from "./api.js";
import { SETTLED, WAITING, debounce, fmtTime, focusView, fmtTokens, fmtUsd, h, replace, shortId, statusBadge } from "./dom.js";
import { Actions } from "./actions.js";
import { DiffView } from "./diff.js";
import { StageGraph } from "./graph.js";
import { EventLog } from "./log.js";
import { OrderModel } from "./model.js";
import { cafeName, notify, store } from "./state.js";

/** Shows order `id` (or a unique prefix) in `view`; returns its teardown. */
export function showOrder(view, id) {
  let closed = false;
  let stream = null;
  let queue = [];
  let flushTimer = null;
  let lastStatus = null;
  const model = new OrderModel(id);
  const log = new EventLog();
  const filter = h("select", { id: "log-filter", on: { change: (e) => select(e.target.value || null) } });
  const graph = new StageGraph(model, (stage) => select(stage));
  const actions = new Actions(model, () => refreshDetails());
  const head = h("header", { class: "panel order-head" }, h("h1", { text: `Order ${shortId(id)}` }), h("p", { class: "muted", text: "loading…" }));
  const costs = h("div", { id: "costs" });
  const diffView = new DiffView(id);
  const streamState = h("span", { id: "order-live", class: "small muted", role: "status" });
  const page = h(
    "section",
    { id: "order-view", class: "order", data: { orderId: id } },
    head,
    h(
      "div",
      { class: "order-grid" },
      h(
        "div",
        { class: "col-main" },
        h(
          "section",
          { class: "panel area-graph", "aria-labelledby": "graph-title" },
          h("div", { class: "panel-head" }, h("h2", { id: "graph-title", text: "Stages" }), h("span", { class: "small muted", text: "choose a stage to see its events" })),
          graph.el,
        ),
        h(
          "section",
          { class: "panel area-log", "aria-labelledby": "log-title" },
          h("div", { class: "panel-head" }, h("h2", { id: "log-title" }, "Events ", streamState), h("label", { class: "inline" }, "Show ", filter)),
          log.wrap,
        ),
      ),
      h(
        "div",
        { class: "col-side" },
        h("div", { class: "area-attention" }, actions.attention),
        h("section", { class: "panel area-side", "aria-labelledby": "actions-title" }, h("h2", { id: "actions-title", text: "Actions" }), actions.controls, actions.message),
        h("section", { class: "panel area-side", "aria-labelledby": "costs-title" }, h("h2", { id: "costs-title", text: "Tokens and cost" }), costs),
      ),
    ),
    diffView.el,
  );
  replace(view, page);

  function select(stage) {
    graph.select(stage);
    log.setFilter(stage);
    filter.value = stage || "";
  }

  function renderFilter() {
    const ids = model.stageIds();
    const current = filter.value;
    if (filter.options.length === ids.length + 1) return;
    replace(filter, h("option", { value: "", text: "All stages" }), ids.map((s) => h("option", { value: s, text: `Stage ${s}` })));
    filter.value = ids.includes(current) ? current : "";
  }

  function renderHead() {
    const o = model.order;
    if (!o) return;
    const status = model.status || o.status;
    const totals = model.totals();
    document.title = `Order ${shortId(o.id)} · ${status} — codecafe`;
    const meta = [
      ["Cafe", h("a", { href: `#/cafe/${encodeURIComponent(o.cafeId)}`, text: cafeName(o.cafeId) })],
      ["Recipe", o.recipeId],
      ["Branch", o.branch ? h("span", {}, h("code", { text: o.branch }), o.baseBranch ? ` from ${o.baseBranch}` : "") : "runs in the repository's checkout"],
      ["Worktree", o.worktreePath ? h("code", { class: "path", text: o.worktreePath }) : "—"],
      ["Created", fmtTime(o.createdAt)],
      ["Finished", o.finishedAt ? fmtTime(o.finishedAt) : "—"],
      ["Cost", costLine(totals)],
      ["Budget", Number.isFinite(o.maxCostUsd) ? fmtUsd(o.maxCostUsd) : "none"],
    ];
    if (o.attempt > 1) meta.push(["Attempt", String(o.attempt)]);
    const notices = [];
    if (model.failure) notices.push(h("p", { class: "notice bad", role: "alert" }, `Stage ${model.failure.stage} failed: `, model.failure.error || "", model.failure.canRetry ? " — it can be retried." : ""));
    else if (status === "failed" && o.error) notices.push(h("p", { class: "notice bad", role: "alert", text: o.error }));
    if (model.interrupted) notices.push(h("p", { class: "notice warn" }, `The codecafe running it stopped (${model.interrupted}); Resume continues it.`));
    if (model.queued && status === "running") notices.push(h("p", { class: "notice" }, `Queued: ${model.queued.running} of ${model.queued.max} orders of this cafe run; it starts when one ends.`));
    if (model.merged) notices.push(h("p", { class: "notice ok" }, `Merged into ${model.merged.into} (${model.merged.kind}).`));
    replace(
      head,
      h("div", { class: "title-row" }, h("h1", { text: `Order ${shortId(o.id)}` }), h("span", { id: "order-status", data: { status } }, statusBadge(status))),
      h("p", { class: "prompt-text", text: o.prompt || "(no prompt)" }),
      h("dl", { class: "meta" }, meta.map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)])),
      notices,
    );
  }

  function costLine(t) {
    return h(
      "span",
      {},
      fmtUsd(t.costUsd),
      t.estimated ? h("span", { class: "marker", title: "computed from tokens with the price table", text: "estimated" }) : null,
      t.unpriced.length ? h("span", { class: "marker warn", title: `no price for: ${t.unpriced.join(", ")}`, text: "unpriced stages" }) : null,
    );
  }

  function renderCosts() {
    const ids = model.stageIds();
    if (ids.length === 0) {
      replace(costs, h("p", { class: "muted", text: "Nothing spent yet." }));
      return;
    }
    const t = model.totals();
    const cached = t.cached > 0;
    const rows = ids.map((sid) => {
      const stage = model.stage(sid);
      const c = model.stageCost(stage);
      const cost = c.priced ? fmtUsd(c.costUsd) : "—";
      const started = ["running", "awaiting-input", "interrupted"].includes(stage.state) && !stage.earlier;
      const runs = c.attempts + (started && !stage.runs.some((r) => r.attempt === stage.attempt) ? 1 : 0);
      return h(
        "tr",
        { data: { stage: sid } },
        h("th", { scope: "row", text: sid }),
        h("td", { class: "num", text: String(runs) }),
        h("td", { class: "num", text: fmtTokens(c.input) }),
        h("td", { class: "num", text: fmtTokens(c.output) }),
        cached ? h("td", { class: "num", text: fmtTokens(c.cached) }) : null,
        h(
          "td",
          { class: "num" },
          cost,
          c.live ? h("span", { class: "marker", title: "so far, as the agent reported it", text: "so far" }) : null,
          c.estimated ? h("span", { class: "marker", title: "computed from tokens with the price table", text: "estimated" }) : null,
          c.unpriced ? h("span", { class: "marker warn", title: `no price for ${c.unpriced}`, text: "unpriced" }) : null,
        ),
      );
    });
    replace(
      costs,
      h(
        "div",
        { class: "table-wrap" },
        h(
          "table",
          { id: "costs-table", class: "costs" },
          h("thead", {}, h("tr", {}, ["Stage", "Runs", "Input", "Output", cached ? "Cached" : null, "Cost"].filter(Boolean).map((x) => h("th", { scope: "col", class: x === "Stage" ? null : "num", text: x })))),
          h("tbody", {}, rows),
          h(
            "tfoot",
            {},
            h("tr", {}, h("th", { scope: "row", text: "Total" }), h("td", {}), h("td", { class: "num", text: fmtTokens(t.input) }), h("td", { class: "num", text: fmtTokens(t.output) }), cached ? h("td", { class: "num", text: fmtTokens(t.cached) }) : null, h("td", { class: "num", id: "cost-total" }, costLine(t))),
          ),
        ),
      ),
      t.unpriced.length ? h("p", { class: "small muted", text: `Unpriced: ${t.unpriced.join(", ")} — no price for the model, so the budget does not count them.` }) : null,
    );
  }

  function render(changed) {
    if (closed) return;
    if (changed.has("graph")) {
      graph.update();
      renderFilter();
    }
    if (changed.has("header")) renderHead();
    if (changed.has("costs") || changed.has("graph")) renderCosts();
    actions.update();
    const status = model.status;
    if (status !== lastStatus) {
      const settledNow = SETTLED.has(status) || WAITING.has(status);
      if (settledNow && diffView.loaded && lastStatus !== null) diffView.load();
      else if (settledNow) diffView.autoload();
      lastStatus = status;
    }
  }

  const refreshDetails = debounce(async () => {
    if (closed) return;
    try {
      const details = await get(`/api/orders/${encodeURIComponent(model.order ? model.order.id : id)}`);
      if (closed) return;
      model.setDetails(details);
      store.orders.set(details.order.id, details.order);
      notify("order", details.order);
      render(new Set(["header", "costs"]));
    } catch {
      // the next event tries again
    }
  }, 300);

  function flush() {
    flushTimer = null;
    if (closed || queue.length === 0) return;
    const batch = queue;
    queue = [];
    const changed = new Set();
    let orderChanged = false;
    for (const event of batch) {
      for (const what of model.apply(event)) changed.add(what);
      if (!event.kind.startsWith("order:output") && event.kind !== "stage:started") orderChanged = true;
    }
    log.add(batch);
    render(changed);
    if (orderChanged) refreshDetails();
  }

  function onEvent(event) {
    queue.push(event);
    if (!flushTimer) flushTimer = setTimeout(flush, 40);
  }

  function setStreamState(state) {
    streamState.textContent = { live: "live", reconnecting: "reconnecting…", closed: "" }[state] || "";
    streamState.dataset.state = state;
  }

  async function load() {
    let details;
    try {
      details = await get(`/api/orders/${encodeURIComponent(id)}`);
    } catch (err) {
      if (closed) return;
      replace(
        view,
        h("section", { class: "panel error", role: "alert" }, h("h1", { text: err.status === 404 ? "No such order" : "The order cannot be read" }), h("p", { text: err.message }), h("p", {}, h("a", { href: "#/", text: "Back to the orders" }))),
      );
      focusView();
      return;
    }
    let plan = null;
    try {
      plan = await get(`/api/orders/${encodeURIComponent(details.order.id)}/plan`);
    } catch {
      // drawn from its events instead
    }
    if (closed) return;
    model.id = details.order.id;
    page.dataset.orderId = details.order.id;
    diffView.orderId = details.order.id;
    model.setPlan(plan);
    model.setDetails(details);
    render(new Set(["graph", "header", "costs"]));
    focusView();
    stream = new LiveStream(`/api/orders/${encodeURIComponent(details.order.id)}/events`, { onEvent, onState: setStreamState });
  }

  load();
  return () => {
    closed = true;
    clearTimeout(flushTimer);
    if (stream) stream.close();
    graph.destroy();
  };
}
