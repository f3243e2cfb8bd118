// The live event log of the order page: every event of the order, newest at the bottom —
// what each stage's agent wrote, its tool calls and results, file changes, refused tool calls,
// errors — and the order's own steps. Filtered by stage. Agent output is shown as text only.
"use strict";

import { clip, fmtDuration, fmtTokens, fmtUsd, h, replace } from "./dom.js";

/** Entries kept in the page; older ones are dropped (the CLI's `order logs` has them all). */
const MAX_ENTRIES = 3000;
/** Characters of one entry shown. */
const MAX_TEXT = 20000;

function pretty(json) {
  try {
    return JSON.stringify(JSON.parse(json), null, 2);
  } catch {
    return String(json ?? "");
  }
}

function usageText(u) {
  if (!u) return "";
  const parts = [`${fmtTokens(u.inputTokens || 0)} in`, `${fmtTokens(u.outputTokens || 0)} out`];
  if (u.cachedInputTokens) parts.push(`${fmtTokens(u.cachedInputTokens)} cached`);
  if (Number.isFinite(u.costUsd)) parts.push(`${fmtUsd(u.costUsd)}${u.costIsSessionTotal ? " (session total)" : ""}`);
  return parts.join(" · ");
}

function costText(p) {
  const parts = [];
  if (Number.isFinite(p.durationMs)) parts.push(`in ${fmtDuration(p.durationMs)}`);
  if (p.usage) parts.push(`${fmtTokens((p.usage.inputTokens || 0) + (p.usage.outputTokens || 0) + (p.usage.cachedInputTokens || 0))} tokens`);
  if (Number.isFinite(p.costUsd)) parts.push(`${fmtUsd(p.costUsd)}${p.costEstimated ? " (estimated)" : ""}`);
  if (p.unpriced) parts.push(`unpriced: ${p.unpriced}`);
  return parts.join(" · ");
}

function signalText(signals) {
  return (signals || [])
    .map((s) => {
      switch (s.action) {
        case "await-user":
          return `asks: ${(s.questions || []).join(" / ")}`;
        case "skip":
          return `skips ${(s.stages || []).join(", ")}`;
        case "skip-next":
          return "skips the next stages";
        case "retry":
          return `asks for a retry: ${s.reason}`;
        default:
          return null;
      }
    })
    .filter(Boolean)
    .join(" · ");
}

function lines(text) {
  const n = String(text).split("\n").length;
  return n === 1 ? "1 line" : `${n} lines`;
}

/** `[label, body text, extra class]` for an agent event (`order:output`). */
function agentEntry(e) {
  switch (e.type) {
    case "assistant-text":
      return ["text", e.text, "text"];
    case "thinking":
      return ["thinking", e.text, "muted"];
    case "tool-call":
      return [`tool ${e.name}`, pretty(e.input), "tool"];
    case "tool-result":
      return [e.isError ? "tool error" : "tool result", e.output, e.isError ? "bad" : "muted"];
    case "file-change":
      return [`file ${e.kind}`, e.path, "file"];
    case "usage":
      return ["usage", usageText(e), "muted"];
    case "final-result":
      return [e.isError ? "result (failed)" : "result", e.text, e.isError ? "bad" : "result"];
    case "error":
      return ["error", e.message, "bad"];
    case "approval-request":
      return [`approval asked: ${e.tool}`, `${e.description}\n${pretty(e.input)}`, "warn"];
    case "tool-denied":
      return [`denied: ${e.tool}`, `${e.reason}${e.input ? `\n${pretty(e.input)}` : ""}`, "warn"];
    case "log":
      return ["log", e.text, "muted"];
    case "session-started":
      return ["session", e.id, "muted"];
    case "other":
      return [e.kind || "other", e.data, "muted"];
    default:
      return [e.type || "event", JSON.stringify(e), "muted"];
  }
}

/** `[label, text, class]` for an order or stage step. */
function stepEntry(event) {
  const p = event.payload || {};
  switch (event.kind) {
    case "order:created":
      return ["created", p.branch ? `on branch ${p.branch}` : "in the repository's checkout", "step"];
    case "order:queued":
      return ["queued", `waiting for a place: ${p.running} of ${p.max} orders of this cafe run`, "step"];
    case "order:started":
      return ["started", (p.groups || []).map((g) => g.join(" + ")).join(" → "), "step"];
    case "stage:started":
      return [`started · attempt ${p.attempt}`, [p.provider, p.session && p.session !== "fresh" ? `${p.session} session of ${p.sessionOf}` : null].filter(Boolean).join(" · "), "step"];
    case "stage:completed":
      return ["completed", [costText(p), signalText(p.signals), p.deniedSummary].filter(Boolean).join("\n"), p.deniedSummary ? "warn" : "ok"];
    case "stage:failed":
      return ["failed", [p.error, p.exitCode !== null && p.exitCode !== undefined ? `exit code ${p.exitCode}` : null, costText(p), p.deniedSummary].filter(Boolean).join("\n"), "bad"];
    case "stage:skipped":
      return ["skipped", "", "step"];
    case "stage:cancelled":
      return ["cancelled", "", "step"];
    case "order:awaiting-input":
      if (p.approval) return ["awaiting approval", `${p.approval.summary}${p.approval.detail ? "\n" + p.approval.detail : ""}`, "warn"];
      return p.reason === "budget"
        ? ["paused at its budget", `spent ${fmtUsd(p.spentUsd)} of ${fmtUsd(p.limitUsd)}`, "warn"]
        : ["awaiting input", (p.questions || []).join("\n"), "warn"];
    case "approval:decided":
      return [`${p.decision === "deny" || p.decision === "withdrawn" ? "denied" : "approved"}${p.fromRecord ? " (as decided before)" : ""}`, `${p.summary}${p.reason ? " — " + p.reason : ""}`, p.decision === "deny" ? "warn" : "ok"];
    case "order:completed":
      return ["order completed", [`cost ${fmtUsd(p.costUsd)}${p.costEstimated ? " (estimated)" : ""}`, (p.failedStages || []).length ? `failed stages: ${p.failedStages.join(", ")}` : null].filter(Boolean).join(" · "), "ok"];
    case "order:failed":
      return ["order failed", `stage ${p.stage}: ${p.error}${p.canRetry ? " (retry possible)" : ""}`, "bad"];
    case "order:cancelled":
      return ["order cancelled", `cost ${fmtUsd(p.costUsd)}`, "step"];
    case "order:interrupted":
      return ["stopped", `${p.reason}; resume continues it`, "warn"];
    case "order:cancel-requested":
      return ["cancel requested", "", "step"];
    case "order:warning":
      return ["warning", p.message, "warn"];
    case "order:merged":
      return ["merged", `${p.branch} into ${p.into} (${p.kind}) at ${String(p.commit || "").slice(0, 10)}`, "ok"];
    case "order:followup-started":
      return ["follow-up started", `${p.prompt}${p.basedOn ? `\n(as stage ${p.basedOn})` : ""}`, "step"];
    case "order:followup-completed":
      return ["follow-up completed", `cost ${fmtUsd(p.costUsd)}`, "ok"];
    case "order:followup-failed":
      return ["follow-up failed", p.error || "", "bad"];
    case "order:followup-cancelled":
      return ["follow-up cancelled", "", "step"];
    case "event:unreadable":
      return [`unreadable ${p.kind}`, p.error, "warn"];
    default:
      return [event.kind, JSON.stringify(p), "muted"];
  }
}

export class EventLog {
  constructor() {
    this.filter = null;
    this.last = null;
    this.count = 0;
    this.dropped = 0;
    this.list = h("ol", { id: "log", class: "log" });
    this.note = h("p", { class: "muted small", hidden: true });
    this.empty = h("p", { class: "muted", text: "No events yet." });
    this.wrap = h("div", { class: "log-wrap", tabindex: "0", "aria-label": "Events" }, this.note, this.list, this.empty);
  }

  /** Shows only stage `id`'s events (null: all). */
  setFilter(id) {
    this.filter = id;
    for (const li of this.list.children) li.hidden = !this.visible(li.dataset.stage);
    this.wrap.scrollTop = this.wrap.scrollHeight;
  }

  visible(stage) {
    return this.filter === null || stage === this.filter;
  }

  /** Appends a batch of events. */
  add(events) {
    const stick = this.wrap.scrollHeight - this.wrap.scrollTop - this.wrap.clientHeight < 40;
    const fragment = document.createDocumentFragment();
    for (const event of events) {
      const li = this.entry(event);
      if (li) fragment.appendChild(li);
    }
    this.list.appendChild(fragment);
    while (this.list.children.length > MAX_ENTRIES) {
      this.list.firstElementChild.remove();
      this.dropped += 1;
    }
    if (this.dropped) {
      this.note.hidden = false;
      this.note.textContent = `${this.dropped} earlier entries are not shown; \`codecafe order logs\` prints them all.`;
    }
    this.empty.hidden = this.list.children.length > 0;
    if (stick) this.wrap.scrollTop = this.wrap.scrollHeight;
  }

  /** The entry of one event (null when it was merged into the one before). */
  entry(event) {
    const p = event.payload || {};
    const stage = event.kind === "order:output" || event.kind.startsWith("stage:") ? p.stage : p.stage && event.kind === "order:awaiting-input" ? p.stage : null;
    let label;
    let text;
    let cls;
    let type = event.kind;
    if (event.kind === "order:output") {
      const e = p.event || {};
      type = e.type || "output";
      // Consecutive lines of text of one attempt read as one block.
      if (type === "assistant-text" && this.last && this.last.type === type && this.last.stage === p.stage && this.last.attempt === p.attempt && this.last.length < MAX_TEXT) {
        this.last.body.appendData(`\n${e.text}`);
        this.last.length += e.text.length + 1;
        return null;
      }
      [label, text, cls] = agentEntry(e);
    } else {
      [label, text, cls] = stepEntry(event);
    }
    const time = new Date(event.at);
    const body = document.createTextNode(clip(text, MAX_TEXT));
    const li = h(
      "li",
      { class: ["ev", `ev-${cls}`], data: { stage: stage || "", type, seq: event.seq }, hidden: !this.visible(stage || "") },
      h(
        "div",
        { class: "ev-meta" },
        h("span", { class: "ev-stage", text: stage || "order" }),
        h("span", { class: "ev-label", text: label }),
        h("time", { datetime: event.at, text: Number.isNaN(time.getTime()) ? "" : time.toLocaleTimeString() }),
      ),
      type === "final-result" && text
        ? h("details", {}, h("summary", { class: "small", text: `the stage's final text (${lines(text)})` }), h("pre", { class: "ev-text" }, body))
        : text || type === "assistant-text"
          ? h("pre", { class: "ev-text" }, body)
          : null,
    );
    this.last = { type, stage: p.stage, attempt: p.attempt, body, length: String(text || "").length };
    this.count += 1;
    return li;
  }

  /** Replaces the log with `events` (a new order page). */
  reset() {
    replace(this.list);
    this.last = null;
    this.count = 0;
    this.dropped = 0;
    this.note.hidden = true;
    this.empty.hidden = false;
  }
}
