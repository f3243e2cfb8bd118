// The stage graph of the order page: one row per group of stages that start together, in the
// order they start, the stages of a group side by side; a line from each stage to each stage
// it waits for. Each stage is a button (showing its events below) with its live state,
// attempt, duration, tokens and cost. Cards are updated in place as events arrive.
"use strict";

import { fmtDuration, fmtTokens, fmtUsd, h, replace, svg } from "./dom.js";

const STATE_TEXT = {
  pending: "pending",
  running: "running",
  "awaiting-input": "waiting for you",
  completed: "completed",
  failed: "failed",
  skipped: "skipped",
  cancelled: "cancelled",
  interrupted: "stopped",
};

const STATE_ICON = {
  pending: "○",
  running: "◐",
  "awaiting-input": "?",
  completed: "✓",
  failed: "✗",
  skipped: "↷",
  cancelled: "■",
  interrupted: "‖",
};

export class StageGraph {
  /** A graph of `model`'s stages; `onSelect(id)` when a stage is chosen (null: all). */
  constructor(model, onSelect) {
    this.model = model;
    this.onSelect = onSelect;
    this.selected = null;
    this.cards = new Map();
    this.shape = "";
    this.edges = svg("svg", { class: "edges", "aria-hidden": "true", focusable: "false" });
    this.rows = h("ol", { class: "groups", "aria-label": "Stages, in the order they start" });
    this.el = h("div", { id: "graph", class: "graph" }, this.edges, this.rows);
    this.timer = null;
    if (typeof ResizeObserver === "function") {
      this.resize = new ResizeObserver(() => this.drawEdgesSoon());
      this.resize.observe(this.el);
    }
  }

  destroy() {
    if (this.resize) this.resize.disconnect();
    clearTimeout(this.timer);
  }

  select(id) {
    this.selected = id;
    for (const [stageId, card] of this.cards) card.setAttribute("aria-pressed", String(stageId === id));
  }

  /** Brings the graph up to date with the model. */
  update() {
    const groups = this.model.drawnGroups();
    const shape = JSON.stringify(groups);
    if (shape !== this.shape) {
      this.shape = shape;
      this.build(groups);
    }
    for (const [id, card] of this.cards) this.fill(card, this.model.stage(id));
    this.drawEdgesSoon();
  }

  build(groups) {
    this.cards.clear();
    if (groups.length === 0) {
      replace(this.rows, h("li", { class: "muted", text: "The stages appear when the order starts." }));
      return;
    }
    replace(
      this.rows,
      groups.map((group, i) =>
        h(
          "li",
          { class: "group", data: { group: i } },
          h("span", { class: "group-label", "aria-hidden": "true", text: String(i + 1) }),
          h(
            "ul",
            { class: "group-stages", "aria-label": group.length > 1 ? `Step ${i + 1}: ${group.length} stages side by side` : `Step ${i + 1}` },
            group.map((id) => {
              const card = h("button", {
                type: "button",
                class: "stage",
                data: { stage: id },
                "aria-pressed": String(this.selected === id),
                on: { click: () => this.onSelect(this.selected === id ? null : id) },
              });
              this.cards.set(id, card);
              return h("li", {}, card);
            }),
          ),
        ),
      ),
    );
  }

  fill(card, stage) {
    const state = stage.state;
    card.dataset.state = state;
    card.dataset.earlier = String(stage.earlier);
    const cost = this.model.stageCost(stage);
    const figures = [];
    if (stage.state === "running" && stage.startedAt) figures.push(`since ${new Date(stage.startedAt).toLocaleTimeString()}`);
    else if (Number.isFinite(stage.durationMs)) figures.push(fmtDuration(stage.durationMs));
    const tokens = cost.input + cost.output + cost.cached;
    if (tokens > 0) figures.push(`${fmtTokens(tokens)} tok`);
    if (cost.priced) figures.push(`${fmtUsd(cost.costUsd)}${cost.estimated ? " est." : ""}`);
    if (cost.unpriced) figures.push("unpriced");
    const meta = [stage.provider, stage.model, stage.permissions].filter(Boolean).join(" · ");
    const stateText = STATE_TEXT[state] || state;
    const attempt = stage.attempt > 1 ? `attempt ${stage.attempt}` : null;
    replace(
      card,
      h(
        "span",
        { class: "stage-head" },
        h("span", { class: "dot", "aria-hidden": "true", text: STATE_ICON[state] || "•" }),
        h("span", { class: "stage-name", text: stage.id }),
        h("span", { class: "stage-state", text: stage.earlier ? `${stateText} (earlier run)` : stateText }),
      ),
      meta ? h("span", { class: "stage-meta", text: meta }) : null,
      stage.after.length ? h("span", { class: "stage-meta", text: `after ${stage.after.join(", ")}` }) : null,
      figures.length || attempt ? h("span", { class: "stage-figures", text: [attempt, ...figures].filter(Boolean).join(" · ") }) : null,
      stage.denied > 0 ? h("span", { class: "stage-warn", text: `${stage.denied} tool call${stage.denied === 1 ? "" : "s"} denied` }) : null,
      stage.error ? h("span", { class: "stage-error", text: stage.error.split("\n")[0].slice(0, 160) }) : null,
    );
    card.setAttribute(
      "aria-label",
      `Stage ${stage.id}: ${stateText}${attempt ? `, ${attempt}` : ""}. ${this.selected === stage.id ? "Showing its events; press to show every stage's." : "Press to show its events."}`,
    );
  }

  drawEdgesSoon() {
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.drawEdges(), 30);
  }

  /** A curve from the bottom of each stage to the top of each stage that waits for it. */
  drawEdges() {
    const box = this.el.getBoundingClientRect();
    const width = Math.ceil(this.el.scrollWidth);
    const height = Math.ceil(this.el.scrollHeight);
    this.edges.setAttribute("width", width);
    this.edges.setAttribute("height", height);
    this.edges.setAttribute("viewBox", `0 0 ${width} ${height}`);
    const paths = [
      svg("defs", {}),
    ];
    const marker = svg("marker", { id: "arrow", viewBox: "0 0 10 10", refX: "9", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto-start-reverse" });
    marker.appendChild(svg("path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrow" }));
    paths[0].appendChild(marker);
    for (const [id, card] of this.cards) {
      const stage = this.model.stage(id);
      for (const dep of stage.after) {
        const from = this.cards.get(dep);
        if (!from) continue;
        const a = from.getBoundingClientRect();
        const b = card.getBoundingClientRect();
        if (a.width === 0 || b.width === 0) continue;
        const x1 = a.left + a.width / 2 - box.left + this.el.scrollLeft;
        const y1 = a.bottom - box.top + this.el.scrollTop;
        const x2 = b.left + b.width / 2 - box.left + this.el.scrollLeft;
        const y2 = b.top - box.top + this.el.scrollTop;
        if (y2 <= y1) continue;
        const mid = (y2 - y1) / 2;
        const done = ["completed", "skipped"].includes(this.model.stage(dep).state);
        paths.push(
          svg("path", {
            d: `M ${x1} ${y1} C ${x1} ${y1 + mid}, ${x2} ${y2 - mid}, ${x2} ${y2 - 2}`,
            class: done ? "edge done" : "edge",
            "marker-end": "url(#arrow)",
            "data-from": dep,
            "data-to": id,
          }),
        );
      }
    }
    this.edges.replaceChildren(...paths);
  }
}
