// The changes of an order's branch against its base (`GET /api/orders/{id}/diff`): the changed
// files, then the patch, committed then uncommitted, each line coloured by what it is. Loaded
// when asked, or by itself once the order stops running; refreshed on request.
"use strict";

import { get } from "./api.js";
import { h, replace, say } from "./dom.js";

/** Lines of patch shown at most. */
const MAX_LINES = 20000;

export class DiffView {
  constructor(orderId) {
    this.orderId = orderId;
    this.loaded = false;
    this.loading = false;
    this.files = h("div", { id: "diff-files" });
    this.pre = h("pre", { id: "diff", class: "diff", tabindex: "0", "aria-label": "Patch", hidden: true });
    this.message = h("p", { class: "form-message", role: "status" });
    this.button = h("button", { id: "diff-load", type: "button", class: "secondary", text: "Show the changes", on: { click: () => this.load() } });
    this.el = h(
      "section",
      { id: "diff-section", class: "panel", "aria-labelledby": "diff-title" },
      h("div", { class: "panel-head" }, h("h2", { id: "diff-title", text: "Changes" }), this.button),
      this.message,
      this.files,
      this.pre,
    );
  }

  /** Loads the diff the first time the order is not running. */
  autoload() {
    if (!this.loaded && !this.loading) this.load();
  }

  async load() {
    this.loading = true;
    this.button.disabled = true;
    say(this.message, "reading the branch…");
    try {
      const diff = await get(`/api/orders/${encodeURIComponent(this.orderId)}/diff`);
      this.show(diff);
      this.loaded = true;
      say(this.message, "");
      this.button.textContent = "Refresh";
    } catch (err) {
      say(this.message, err.message, "error");
    } finally {
      this.loading = false;
      this.button.disabled = false;
    }
  }

  show(diff) {
    const files = diff.files || [];
    if (files.length === 0) {
      replace(this.files, h("p", { class: "muted", text: `No changes against ${diff.base} yet.` }));
    } else {
      let plus = 0;
      let minus = 0;
      for (const f of files) {
        plus += f.insertions || 0;
        minus += f.deletions || 0;
      }
      replace(
        this.files,
        h("p", { class: "small" }, `${files.length} file${files.length === 1 ? "" : "s"} changed on `, h("code", { text: diff.branch || "the checkout" }), ` against `, h("code", { text: diff.base }), " · ", h("span", { class: "plus", text: `+${plus}` }), " ", h("span", { class: "minus", text: `−${minus}` })),
        h(
          "ul",
          { class: "files" },
          files.map((f) =>
            h(
              "li",
              { data: { path: f.path } },
              h("span", { class: "tag", text: f.kind }),
              " ",
              h("code", { text: f.path }),
              " ",
              h("span", { class: "plus", text: `+${f.insertions || 0}` }),
              " ",
              h("span", { class: "minus", text: `−${f.deletions || 0}` }),
              f.uncommitted ? h("span", { class: "muted small", text: " uncommitted" }) : null,
            ),
          ),
        ),
      );
    }
    const lines = String(diff.text || "").split("\n");
    const shown = lines.slice(0, MAX_LINES);
    const fragment = document.createDocumentFragment();
    for (const line of shown) {
      let cls = "";
      if (line.startsWith("+++") || line.startsWith("---") || line.startsWith("diff ") || line.startsWith("index ")) cls = "d-head";
      else if (line.startsWith("+")) cls = "d-add";
      else if (line.startsWith("-")) cls = "d-del";
      else if (line.startsWith("@@")) cls = "d-hunk";
      else if (line.startsWith("#")) cls = "d-section";
      const span = document.createElement("span");
      if (cls) span.className = cls;
      span.textContent = `${line}\n`;
      fragment.appendChild(span);
    }
    if (lines.length > MAX_LINES) {
      const more = document.createElement("span");
      more.className = "d-section";
      more.textContent = `… ${lines.length - MAX_LINES} more lines: \`codecafe order diff ${this.orderId.slice(0, 8)}\` prints them all\n`;
      fragment.appendChild(more);
    }
    this.pre.replaceChildren(fragment);
    this.pre.hidden = false;
  }
}
