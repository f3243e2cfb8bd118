// Placeholder page: lists the latest orders through the API (the cookie set by the login URL
// authenticates the requests).
"use strict";
(async () => {
  const list = document.getElementById("orders");
  try {
    const response = await fetch("/api/orders?limit=20");
    const body = await response.json();
    if (!response.ok) {
      list.innerHTML = "";
      const item = document.createElement("li");
      item.textContent = body.error ? body.error.message : response.statusText;
      list.appendChild(item);
      return;
    }
    list.innerHTML = "";
    for (const order of body.orders) {
      const item = document.createElement("li");
      item.textContent = `${order.id.slice(0, 8)}  ${order.status}  ${order.recipeId}  ${order.prompt}`;
      list.appendChild(item);
    }
    if (body.orders.length === 0) {
      list.innerHTML = "<li>no orders yet</li>";
    }
  } catch (err) {
    list.textContent = String(err);
  }
})();
