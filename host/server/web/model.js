// An order as the order page shows it, built from its stored state (`GET /api/orders/{id}`),
// its plan (`GET /api/orders/{id}/plan`) and its events, replayed from the first and then
// live: each stage's state, attempts, tokens and cost; what the order waits for; how it ended.
"use strict";

import { statusAfter } from "./state.js";

/** The states a stage is shown in. */
export const STAGE_STATES = ["pending", "running", "awaiting-input", "completed", "failed", "skipped", "cancelled", "interrupted"];

function newStage(id) {
  return {
    id,
    state: "pending",
    attempt: 0,
    provider: null,
    model: null,
    role: null,
    permissions: null,
    after: [],
    /** The state is from an earlier run of the order (a retry started since). */
    earlier: false,
    startedAt: null,
    durationMs: null,
    error: null,
    session: null,
    /** One entry per finished attempt: usage, cost and markers. */
    runs: [],
    /** Usage the agent reported so far in the running attempt. */
    liveUsage: null,
    /** Tool calls refused in the running or last attempt. */
    denied: 0,
    deniedSummary: null,
    signals: [],
  };
}

export class OrderModel {
  constructor(id) {
    this.id = id;
    this.order = null;
    this.questions = [];
    this.pinned = false;
    this.groups = [];
    this.stages = new Map();
    this.planOrder = [];
    this.status = null;
    this.awaiting = null;
    this.failure = null;
    this.interrupted = null;
    this.queued = null;
    this.merged = null;
    this.followup = null;
    this.lastSeq = 0;
    this.eventCount = 0;
  }

  stage(id) {
    let stage = this.stages.get(id);
    if (!stage) {
      stage = newStage(id);
      this.stages.set(id, stage);
    }
    return stage;
  }

  /** Stage ids in the order the page lists them: the plan's, then any other (a follow-up). */
  stageIds() {
    const ids = [...this.planOrder];
    for (const id of this.stages.keys()) if (!ids.includes(id)) ids.push(id);
    return ids;
  }

  /** The groups to draw: the plan's, then one group per stage outside it. */
  drawnGroups() {
    const groups = this.groups.map((g) => [...g]);
    const placed = new Set(groups.flat());
    for (const id of this.stageIds()) {
      if (!placed.has(id)) {
        groups.push([id]);
        placed.add(id);
      }
    }
    return groups;
  }

  /** `GET /api/orders/{id}/plan`. */
  setPlan(plan) {
    if (!plan || !plan.pinned) return;
    this.pinned = true;
    this.planOrder = plan.stages.map((s) => s.id);
    this.groups = plan.groups;
    for (const spec of plan.stages) {
      const stage = this.stage(spec.id);
      stage.provider = stage.provider || spec.provider;
      stage.model = spec.model;
      stage.role = spec.role;
      stage.permissions = spec.permissions;
      stage.after = spec.after || [];
    }
  }

  /** `GET /api/orders/{id}`: the stored order wins over what the events suggested. */
  setDetails(details) {
    this.order = details.order;
    this.status = details.order.status;
    this.questions = details.questions || [];
    if (!this.pinned && details.recipe && this.planOrder.length === 0) {
      this.planOrder = details.recipe.stages || [];
      for (const id of this.planOrder) this.stage(id);
      if (this.groups.length === 0) this.groups = this.planOrder.map((id) => [id]);
    }
    if (this.eventCount === 0) {
      // Until the events are read, each stage shows its latest stored run.
      for (const run of details.stages || []) {
        const stage = this.stage(run.stageId);
        stage.state = STAGE_STATES.includes(run.status) ? run.status : stage.state;
        stage.attempt = run.attempt;
        stage.provider = stage.provider || run.provider;
      }
    }
    if (!["awaiting-input", "followup-awaiting-input"].includes(this.status)) this.awaiting = null;
    else if (!this.awaiting) {
      const open = [...this.questions].reverse().find((q) => q.answer === null || q.answer === undefined);
      const approval = [...(details.approvals || [])].reverse().find((a) => !a.decision);
      if (open) this.awaiting = { reason: open.kind, stage: open.stage, questions: open.questions, approval: open.kind === "approval" ? approval : undefined };
    }
  }

  /** The open question, if the order waits for an answer. */
  openQuestion() {
    return [...this.questions].reverse().find((q) => q.answer === null || q.answer === undefined) || null;
  }

  /** Applies one event; returns what changed: a set of "graph", "header", "costs". */
  apply(event) {
    const changed = new Set();
    if (event.seq <= this.lastSeq) return changed;
    this.lastSeq = event.seq;
    this.eventCount += 1;
    const p = event.payload || {};
    const before = this.status;
    this.status = statusAfter(event.kind, this.status);
    if (this.status !== before) changed.add("header");
    switch (event.kind) {
      case "order:queued":
        this.queued = p;
        changed.add("header");
        break;
      case "order:started": {
        this.queued = null;
        this.awaiting = null;
        this.failure = null;
        this.interrupted = null;
        if (!this.pinned) {
          if (Array.isArray(p.stages) && p.stages.length) this.planOrder = p.stages;
          if (Array.isArray(p.groups) && p.groups.length) this.groups = p.groups;
          // Without a plan, each stage waits for the group before its own.
          this.groups.forEach((group, i) => {
            for (const id of group) this.stage(id).after = i > 0 ? [...this.groups[i - 1]] : [];
          });
        }
        for (const stage of this.stages.values()) {
          if (stage.state !== "pending") stage.earlier = true;
        }
        changed.add("graph").add("header");
        break;
      }
      case "stage:started": {
        const stage = this.stage(p.stage);
        if (before === "failed" || before === "cancelled") {
          // A retry: what the stages show is from the run before, until they run again.
          for (const other of this.stages.values()) if (other.state !== "pending") other.earlier = true;
          this.failure = null;
          changed.add("header");
        }
        stage.state = "running";
        stage.attempt = p.attempt;
        stage.provider = p.provider || stage.provider;
        stage.session = p.session === "fresh" ? null : `${p.session} ${p.sessionOf || ""}`.trim();
        stage.earlier = false;
        stage.startedAt = event.at;
        stage.durationMs = null;
        stage.error = null;
        stage.liveUsage = null;
        stage.denied = 0;
        stage.deniedSummary = null;
        this.interrupted = null;
        if (this.awaiting && this.awaiting.stage === p.stage) this.awaiting = null;
        changed.add("graph").add("costs");
        break;
      }
      case "order:output": {
        const e = p.event || {};
        const stage = this.stage(p.stage);
        // A stage answered (or resumed) continues without a new `stage:started`.
        if (["awaiting-input", "interrupted", "pending"].includes(stage.state)) {
          stage.state = "running";
          stage.earlier = false;
          this.interrupted = null;
          if (this.awaiting && this.awaiting.stage === p.stage) this.awaiting = null;
          changed.add("graph").add("header");
        }
        if (e.type === "usage") {
          stage.liveUsage = e;
          changed.add("graph").add("costs");
        } else if (e.type === "tool-denied") {
          stage.denied += 1;
          changed.add("graph");
        }
        break;
      }
      case "stage:completed":
      case "stage:failed": {
        const stage = this.stage(p.stage);
        const failed = event.kind === "stage:failed";
        stage.state = failed ? "failed" : "completed";
        stage.earlier = false;
        stage.durationMs = p.durationMs ?? null;
        stage.error = failed ? p.error || `exit code ${p.exitCode ?? "?"}` : null;
        stage.deniedSummary = p.deniedSummary || null;
        stage.denied = Array.isArray(p.denied) ? p.denied.length : stage.denied;
        stage.signals = p.signals || [];
        stage.liveUsage = null;
        stage.runs = stage.runs.filter((r) => r.attempt !== p.attempt);
        stage.runs.push({
          attempt: p.attempt,
          status: stage.state,
          usage: p.usage || null,
          costUsd: p.costUsd ?? null,
          costEstimated: Boolean(p.costEstimated),
          unpriced: p.unpriced || null,
          durationMs: p.durationMs ?? null,
        });
        changed.add("graph").add("costs");
        break;
      }
      case "stage:skipped":
      case "stage:cancelled": {
        const stage = this.stage(p.stage);
        stage.state = event.kind === "stage:skipped" ? "skipped" : "cancelled";
        stage.earlier = false;
        changed.add("graph");
        break;
      }
      case "order:awaiting-input":
        this.awaiting = p;
        if (p.stage) {
          const stage = this.stage(p.stage);
          stage.state = "awaiting-input";
          stage.earlier = false;
        }
        changed.add("graph").add("header");
        break;
      case "order:completed":
        this.awaiting = null;
        this.failure = null;
        changed.add("header").add("costs");
        break;
      case "order:failed":
      case "order:followup-failed":
        this.failure = p;
        this.awaiting = null;
        changed.add("header");
        break;
      case "order:cancelled":
      case "order:followup-cancelled":
        this.awaiting = null;
        for (const stage of this.stages.values()) {
          if (stage.state === "running" || stage.state === "awaiting-input") stage.state = "cancelled";
        }
        changed.add("graph").add("header");
        break;
      case "order:interrupted":
        this.interrupted = p.reason || "stopped";
        for (const stage of this.stages.values()) if (stage.state === "running") stage.state = "interrupted";
        changed.add("graph").add("header");
        break;
      case "order:merged":
        this.merged = p;
        changed.add("header");
        break;
      case "order:followup-started": {
        this.followup = p;
        this.failure = null;
        const stage = this.stage(p.stage || "followup");
        stage.after = p.basedOn ? [p.basedOn] : [];
        stage.provider = p.provider || stage.provider;
        changed.add("graph").add("header");
        break;
      }
      case "order:followup-completed":
        changed.add("header").add("costs");
        break;
      default:
        break;
    }
    return changed;
  }

  /** A stage's tokens and cost, summed over its attempts (and what its running one reported). */
  stageCost(stage) {
    const total = { input: 0, output: 0, cached: 0, costUsd: 0, priced: false, estimated: false, unpriced: null, attempts: stage.runs.length };
    const add = (usage, costUsd) => {
      if (usage) {
        total.input += usage.inputTokens || 0;
        total.output += usage.outputTokens || 0;
        total.cached += usage.cachedInputTokens || 0;
      }
      if (Number.isFinite(costUsd)) {
        total.costUsd += costUsd;
        total.priced = true;
      }
    };
    for (const run of stage.runs) {
      add(run.usage, run.costUsd);
      if (run.costEstimated) total.estimated = true;
      if (run.unpriced) total.unpriced = run.unpriced;
    }
    if (stage.state === "running" && stage.liveUsage) {
      add(stage.liveUsage, stage.liveUsage.costIsSessionTotal ? null : stage.liveUsage.costUsd);
      total.live = true;
    }
    return total;
  }

  /** The order's tokens and cost (its stored cost when known), and its markers. */
  totals() {
    const total = { input: 0, output: 0, cached: 0, costUsd: 0, estimated: false, unpriced: [] };
    for (const stage of this.stages.values()) {
      const c = this.stageCost(stage);
      total.input += c.input;
      total.output += c.output;
      total.cached += c.cached;
      total.costUsd += c.costUsd;
      if (c.estimated) total.estimated = true;
      if (c.unpriced) total.unpriced.push(`${stage.id} (${c.unpriced})`);
    }
    if (this.order && Number.isFinite(this.order.costUsd) && this.order.costUsd > total.costUsd) total.costUsd = this.order.costUsd;
    return total;
  }
}
