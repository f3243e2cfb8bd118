// A new order (#/new): pick a cafe and one of its recipes, say what to do, and create it —
// running it at once (`POST /api/orders/run`) or not (`POST /api/orders`). What keeps it from
// starting is shown as the server says it: the problems with their fixes, or the trust a
// repository's recipe needs first.
"use strict";

import { get, post } from "./api.js";
import { h, replace, say } from "./dom.js";
import { loadCafes, refreshOrder, store, subscribe } from "./state.js";

/** Shows the form in `view`, the cafe `cafeId` chosen when given; returns its teardown. */
export function showNewOrder(view, cafeId) {
  const cafeSelect = h("select", { id: "no-cafe", name: "cafe", required: true });
  const recipeSelect = h("select", { id: "no-recipe", name: "recipe", required: true });
  const recipeInfo = h("p", { id: "no-recipe-info", class: "muted small", "aria-live": "polite" });
  const prompt = h("textarea", { id: "no-prompt", name: "prompt", rows: 6, required: true, placeholder: "What should the agents do? e.g. Add rate limiting to the API" });
  const maxCost = h("input", { id: "no-max-cost", name: "maxCost", type: "number", min: "0.01", step: "0.01", inputmode: "decimal", placeholder: "no limit" });
  const base = h("input", { id: "no-base", name: "baseBranch", type: "text", autocomplete: "off", spellcheck: "false" });
  const inPlace = h("input", { id: "no-in-place", name: "inPlace", type: "checkbox" });
  const message = h("div", { id: "no-message", class: "form-message", role: "status" });
  const run = h("button", { id: "no-run", type: "submit", class: "primary", text: "Create and run" });
  const createOnly = h("button", { id: "no-create", type: "button", class: "secondary", text: "Create only" });
  let recipes = [];

  const form = h(
    "form",
    { id: "new-order", class: "panel stack", on: { submit: (e) => { e.preventDefault(); submit(true); } } },
    h("div", { class: "field" }, h("label", { for: "no-cafe", text: "Cafe" }), cafeSelect),
    h("div", { class: "field" }, h("label", { for: "no-recipe", text: "Recipe" }), recipeSelect, recipeInfo),
    h("div", { class: "field" }, h("label", { for: "no-prompt", text: "Prompt" }), prompt),
    h(
      "details",
      { class: "options" },
      h("summary", { text: "Options" }),
      h("div", { class: "field" }, h("label", { for: "no-max-cost", text: "Budget (US dollars; the order pauses when its cost reaches it)" }), maxCost),
      h("div", { class: "field" }, h("label", { for: "no-base", text: "Start from branch" }), base),
      h("div", { class: "field check" }, inPlace, h("label", { for: "no-in-place", text: "Run in the repository's own checkout (no new branch and worktree)" })),
    ),
    h("div", { class: "buttons" }, run, createOnly),
    message,
  );
  createOnly.addEventListener("click", () => {
    if (form.reportValidity()) submit(false);
  });

  replace(
    view,
    h(
      "section",
      { class: "new-order" },
      h("div", { class: "view-head" }, h("h1", { text: "New order" }), h("a", { href: "#/", text: "Back to the orders" })),
      h("p", { class: "muted" }, "The order gets its own branch and worktree; its stages run as the recipe says, and you can follow them live."),
      form,
    ),
  );

  function fillCafes() {
    const chosen = cafeSelect.value || cafeId || store.currentCafe || (store.cafes[0] && store.cafes[0].id);
    replace(cafeSelect, store.cafes.map((c) => h("option", { value: c.id, text: `${c.name} — ${c.path}`, selected: c.id === chosen || c.id.startsWith(chosen || "\u0000") })));
    if (store.cafes.length === 0) {
      say(message, "No cafe is registered yet: register a repository on the dashboard first.", "error");
      run.disabled = createOnly.disabled = true;
    } else {
      run.disabled = createOnly.disabled = false;
    }
  }

  async function fillRecipes() {
    const cafe = store.cafes.find((c) => c.id === cafeSelect.value);
    replace(recipeSelect, h("option", { value: "", text: "loading…" }));
    recipeInfo.textContent = "";
    if (!cafe) return;
    base.placeholder = (cafe.settings && cafe.settings.baseBranch) || "the cafe's base branch";
    try {
      recipes = (await get(`/api/cafes/${encodeURIComponent(cafe.id)}/recipes`)).recipes || [];
    } catch (err) {
      replace(recipeSelect);
      say(message, err.message, "error");
      return;
    }
    const preferred = cafe.settings && cafe.settings.defaultRecipe;
    const chosen = recipes.some((r) => r.id === preferred) ? preferred : recipes[0] && recipes[0].id;
    replace(
      recipeSelect,
      recipes.map((r) => h("option", { value: r.id, selected: r.id === chosen, text: `${r.name}${r.name !== r.id ? ` (${r.id})` : ""}${r.origin === "built-in" ? "" : " · this cafe's"}${r.valid ? "" : " · has problems"}` })),
    );
    describeRecipe();
  }

  function describeRecipe() {
    const recipe = recipes.find((r) => r.id === recipeSelect.value);
    if (!recipe) {
      recipeInfo.textContent = "";
      return;
    }
    const parts = [];
    if (recipe.description) parts.push(recipe.description);
    parts.push(`Stages: ${recipe.stages.join(" → ")}`);
    if (!recipe.valid) parts.push(`${recipe.problems} problem(s): \`codecafe recipe validate ${recipe.id}\` lists them`);
    recipeInfo.textContent = parts.join(" · ");
  }

  async function submit(andRun) {
    const body = { cafe: cafeSelect.value, recipe: recipeSelect.value || undefined, prompt: prompt.value };
    if (maxCost.value) body.maxCost = Number(maxCost.value);
    if (base.value.trim()) body.baseBranch = base.value.trim();
    if (inPlace.checked) body.createWorktree = false;
    run.disabled = createOnly.disabled = true;
    say(message, andRun ? "creating and starting the order…" : "creating the order…");
    try {
      const answer = await post(andRun ? "/api/orders/run" : "/api/orders", body);
      const order = answer.order;
      store.orders.set(order.id, order);
      refreshOrder(order.id);
      location.hash = `#/orders/${encodeURIComponent(order.id)}`;
    } catch (err) {
      showError(err, body.cafe);
    } finally {
      run.disabled = createOnly.disabled = false;
    }
  }

  /** The server's refusal, with the problems it lists and what would fix them. */
  function showError(err, cafe) {
    replace(message, h("p", { class: "error", role: "alert", text: err.message }));
    message.dataset.kind = "error";
    if (err.problems.length) {
      message.append(
        h(
          "ul",
          { class: "problems" },
          err.problems.map((p) => h("li", {}, h("strong", { text: `${p.subject}: ` }), p.message, p.fix ? h("div", { class: "muted small" }, "fix: ", h("code", { text: p.fix })) : null)),
        ),
      );
    }
    if (err.kind === "untrusted") {
      const trust = h("button", { type: "button", class: "secondary", text: "Trust this repository's .orch/ as it is now" });
      trust.addEventListener("click", async () => {
        trust.disabled = true;
        try {
          await post(`/api/cafes/${encodeURIComponent(cafe)}/trust`);
          replace(message, h("p", { text: "Trusted. Create the order again." }));
        } catch (e) {
          replace(message, h("p", { class: "error", role: "alert", text: e.message }));
        }
      });
      message.append(h("p", { class: "small" }, "It runs programs only after you trust it (like `codecafe trust`). ", trust));
    }
  }

  cafeSelect.addEventListener("change", fillRecipes);
  recipeSelect.addEventListener("change", describeRecipe);
  fillCafes();
  fillRecipes();
  const unsubscribe = subscribe((what) => {
    if (what === "cafes") {
      const before = cafeSelect.value;
      fillCafes();
      if (cafeSelect.value !== before) fillRecipes();
    }
  });
  if (store.cafes.length === 0) loadCafes().catch(() => {});
  return unsubscribe;
}
