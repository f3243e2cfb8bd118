// What the user can do with an order, as its status allows: answer its questions, decide the
// tool call it waits on, or raise its budget (the "attention" panel), and run, cancel, resume, retry (failed stages, from a stage,
// from the beginning), follow up, finish the follow-up, merge. Each form posts to the API and
// says how it went; the order's events show the rest. Forms are rebuilt only when what the
// order allows changes, so nothing typed is lost while events arrive.
"use strict";

import { post } from "./api.js";
import { fmtUsd, h, replace, say } from "./dom.js";

export class Actions {
  /** The actions of `model`'s order; `refresh()` reads the order again after an action. */
  constructor(model, refresh) {
    this.model = model;
    this.refresh = refresh;
    this.attention = h("div", { id: "attention" });
    this.controls = h("div", { id: "actions", class: "actions" });
    this.message = h("p", { id: "actions-message", class: "form-message", role: "status" });
    this.key = null;
  }

  path(action) {
    return `/api/orders/${encodeURIComponent(this.model.order.id)}/${action}`;
  }

  /** Runs `call` from `button`, reporting in `message`. */
  async act(button, message, busy, call, done) {
    button.disabled = true;
    say(message, busy);
    try {
      const answer = await call();
      say(message, typeof done === "function" ? done(answer) : done, "ok");
      this.refresh();
    } catch (err) {
      say(message, err.message, "error");
    } finally {
      button.disabled = false;
    }
  }

  update() {
    const m = this.model;
    if (!m.order) return;
    const open = m.openQuestion();
    const key = [m.status, m.awaiting && m.awaiting.reason, open && open.id, m.interrupted ? 1 : 0, m.failure ? m.failure.canRetry : "", m.stageIds().join(",")].join("|");
    if (key === this.key) return;
    this.key = key;
    replace(this.attention, this.attentionPanel());
    replace(this.controls, ...this.controlPanels());
  }

  attentionPanel() {
    const m = this.model;
    if (!["awaiting-input", "followup-awaiting-input"].includes(m.status)) return null;
    const open = m.openQuestion();
    const awaiting = m.awaiting || {};
    const budget = awaiting.reason === "budget" || (open && open.kind === "budget");
    const message = h("p", { class: "form-message", role: "status" });
    if (budget) {
      const spent = awaiting.spentUsd ?? m.order.costUsd;
      const limit = awaiting.limitUsd ?? m.order.maxCostUsd;
      const input = h("input", { id: "budget", type: "number", min: "0.01", step: "0.01", inputmode: "decimal", required: true, value: Number.isFinite(limit) ? (limit * 2).toFixed(2) : "" });
      const button = h("button", { id: "budget-send", type: "submit", class: "primary", text: "Raise the budget and continue" });
      return h(
        "section",
        { id: "question", class: "panel attention", "aria-labelledby": "question-title" },
        h("h2", { id: "question-title", text: "Paused at its budget" }),
        h("p", {}, `The order has spent ${fmtUsd(spent)} of its ${fmtUsd(limit)} budget. Raise the budget to go on, or cancel it.`),
        h(
          "form",
          {
            class: "row",
            on: {
              submit: (e) => {
                e.preventDefault();
                this.act(button, message, "continuing…", () => post(this.path("input"), { budget: Number(input.value) }), "continuing with the new budget");
              },
            },
          },
          h("label", { for: "budget", text: "New budget (US dollars)" }),
          input,
          button,
        ),
        message,
      );
    }
    if (awaiting.approval) return this.approvalPanel(awaiting.approval, message);
    const questions = (open && open.questions) || awaiting.questions || [];
    const stage = (open && open.stage) || awaiting.stage;
    const answer = h("textarea", { id: "answer", rows: 3, required: true });
    const button = h("button", { id: "answer-send", type: "submit", class: "primary", text: "Send answer" });
    return h(
      "section",
      { id: "question", class: "panel attention", "aria-labelledby": "question-title" },
      h("h2", { id: "question-title", text: stage ? `Stage ${stage} asks` : "The order asks" }),
      h("ol", { class: "questions" }, questions.map((q) => h("li", { class: "question", text: q }))),
      h(
        "form",
        {
          class: "stack",
          on: {
            submit: (e) => {
              e.preventDefault();
              this.act(button, message, "sending…", () => post(this.path("input"), { answer: answer.value }), "answered; the stage continues");
            },
          },
        },
        h("label", { for: "answer", text: "Your answer (the asking stage continues its session with it)" }),
        answer,
        h("div", { class: "buttons" }, button),
      ),
      message,
    );
  }

  /** The tool call the order waits on: what it would do, and approve / always / deny. */
  approvalPanel(approval, message) {
    const reason = h("input", { id: "deny-reason", type: "text", placeholder: "why (for the agent; optional)" });
    const approve = h("button", { id: "approve", type: "button", class: "primary", text: "Approve" });
    const always = h("button", { id: "approve-always", type: "button", text: `Always allow ${approval.rule || approval.tool}` });
    const deny = h("button", { id: "deny", type: "button", class: "danger", text: "Deny" });
    const decide = (button, action, body, done) => this.act(button, message, "continuing…", () => post(this.path(action), { approval: approval.id, ...body }), done);
    approve.addEventListener("click", () => decide(approve, "approve", {}, "approved; the stage continues"));
    always.addEventListener("click", () => decide(always, "approve", { always: true }, "approved for the rest of the order; the stage continues"));
    deny.addEventListener("click", () => decide(deny, "deny", reason.value.trim() ? { reason: reason.value.trim() } : {}, "denied; the stage continues without it"));
    return h(
      "section",
      { id: "question", class: "panel attention approval", "aria-labelledby": "question-title" },
      h("h2", { id: "question-title", text: `Stage ${approval.stage} asks to run a tool` }),
      h("p", { id: "approval-summary", class: "mono", text: approval.summary }),
      approval.detail ? h("pre", { id: "approval-detail", class: "diff", text: approval.detail }) : null,
      h("div", { class: "buttons" }, approve, always),
      h("div", { class: "row" }, h("label", { for: "deny-reason", text: "Deny" }), reason, deny),
      message,
    );
  }

  controlPanels() {
    const m = this.model;
    const s = m.status;
    const panels = [];
    const message = this.message;
    const buttons = [];
    if (s === "created") {
      const run = h("button", { id: "execute", type: "button", class: "primary", text: "Run it" });
      run.addEventListener("click", () => this.act(run, message, "starting…", () => post(this.path("execute")), "started"));
      buttons.push(run);
    }
    if (m.interrupted && (s === "running" || s === "followup-running")) {
      const resume = h("button", { id: "resume", type: "button", class: "primary", text: "Resume" });
      resume.addEventListener("click", () => this.act(resume, message, "resuming…", () => post(this.path("resume")), "resumed"));
      buttons.push(resume);
    }
    if (["running", "awaiting-input", "followup-running", "followup-awaiting-input"].includes(s)) {
      const cancel = h("button", { id: "cancel", type: "button", class: "danger", text: s.startsWith("followup") ? "Cancel the follow-up" : "Cancel the order" });
      cancel.addEventListener("click", () => this.act(cancel, message, "cancelling…", () => post(this.path("cancel")), "cancelled"));
      buttons.push(cancel);
    }
    if (s === "followup") {
      const finish = h("button", { id: "finish-followup", type: "button", class: "secondary", text: "Finish the follow-up" });
      finish.addEventListener("click", () => this.act(finish, message, "finishing…", () => post(this.path("followup/finish")), "completed again"));
      buttons.push(finish);
    }
    if (buttons.length) panels.push(h("div", { class: "buttons" }, buttons));
    if (s === "failed" || s === "cancelled") panels.push(this.retryForm(message));
    if (s === "completed" || s === "followup") {
      panels.push(this.followupForm(message));
      panels.push(this.mergeForm(message));
    }
    if (panels.length === 0) panels.push(h("p", { class: "muted small", text: "Nothing to do while it runs; the stages update live." }));
    return panels;
  }

  retryForm(message) {
    const m = this.model;
    const from = h(
      "select",
      { id: "retry-from" },
      h("option", { value: "", text: "the failed stages" }),
      m.stageIds().filter((id) => m.planOrder.includes(id)).map((id) => h("option", { value: `stage:${id}`, text: `stage ${id} and what follows it` })),
      h("option", { value: "beginning", text: "the beginning" }),
    );
    const fresh = h("input", { id: "retry-fresh", type: "checkbox" });
    const button = h("button", { id: "retry", type: "submit", class: "primary", text: "Retry" });
    return h(
      "form",
      {
        class: "stack action-form",
        "aria-labelledby": "retry-title",
        on: {
          submit: (e) => {
            e.preventDefault();
            const body = { fresh: fresh.checked };
            if (from.value === "beginning") body.fromBeginning = true;
            else if (from.value.startsWith("stage:")) body.fromStage = from.value.slice(6);
            this.act(button, message, "retrying…", () => post(this.path("retry"), body), "retrying");
          },
        },
      },
      h("h3", { id: "retry-title", text: "Retry" }),
      m.failure && m.failure.canRetry === false ? h("p", { class: "muted small", text: "The run said it cannot simply be retried; a retry from a stage or from the beginning may still work." }) : null,
      h("label", { for: "retry-from", text: "Run again from" }),
      from,
      h("div", { class: "check" }, fresh, h("label", { for: "retry-fresh", text: "New agent sessions (forget the previous attempt's context)" })),
      h("div", { class: "buttons" }, button),
    );
  }

  followupForm(message) {
    const m = this.model;
    const prompt = h("textarea", { id: "followup-prompt", rows: 3, required: true, placeholder: "One more thing to do on this branch" });
    const stage = h(
      "select",
      { id: "followup-stage" },
      h("option", { value: "", text: "the recipe's last stage that edits files" }),
      m.planOrder.map((id) => h("option", { value: id, text: `stage ${id}` })),
    );
    const button = h("button", { id: "followup", type: "submit", class: "primary", text: "Run the follow-up" });
    return h(
      "form",
      {
        class: "stack action-form",
        "aria-labelledby": "followup-title",
        on: {
          submit: (e) => {
            e.preventDefault();
            const body = { prompt: prompt.value };
            if (stage.value) body.stage = stage.value;
            this.act(button, message, "starting the follow-up…", () => post(this.path("followup"), body), "follow-up started");
          },
        },
      },
      h("h3", { id: "followup-title", text: "Follow-up" }),
      h("label", { for: "followup-prompt", text: "Prompt" }),
      prompt,
      h("label", { for: "followup-stage", text: "Run it as" }),
      stage,
      h("div", { class: "buttons" }, button),
    );
  }

  mergeForm(message) {
    const m = this.model;
    const into = h("input", { id: "merge-into", type: "text", autocomplete: "off", spellcheck: "false", placeholder: m.order.baseBranch || "the base branch" });
    const squash = h("input", { id: "merge-squash", type: "checkbox" });
    const remove = h("input", { id: "merge-delete", type: "checkbox" });
    const button = h("button", { id: "merge", type: "submit", class: "secondary", text: "Merge" });
    return h(
      "form",
      {
        class: "stack action-form",
        "aria-labelledby": "merge-title",
        on: {
          submit: (e) => {
            e.preventDefault();
            const body = { squash: squash.checked, delete: remove.checked };
            if (into.value.trim()) body.into = into.value.trim();
            this.act(button, message, "merging…", () => post(this.path("merge"), body), (report) => `merged${report && report.kind ? ` (${report.kind})` : ""}`);
          },
        },
      },
      h("h3", { id: "merge-title", text: `Merge ${m.order.branch || "its branch"}` }),
      h("label", { for: "merge-into", text: "Into branch" }),
      into,
      h("div", { class: "check" }, squash, h("label", { for: "merge-squash", text: "Squash into one commit" })),
      h("div", { class: "check" }, remove, h("label", { for: "merge-delete", text: "Then remove its worktree and branch" })),
      h("div", { class: "buttons" }, button),
    );
  }
}
