// Progressive enhancement of the upvote button: the form works without JavaScript (POST and
// redirect back); with it, the vote is sent in the background and the count updates in place.
"use strict";
document.addEventListener("submit", async (event) => {
  const form = event.target;
  if (!(form instanceof HTMLFormElement) || !form.hasAttribute("data-upvote")) return;
  event.preventDefault();
  const button = form.querySelector("button");
  button.disabled = true;
  try {
    const response = await fetch(form.action, {
      method: "POST",
      body: new URLSearchParams(new FormData(form)),
      headers: { Accept: "application/json" },
      credentials: "same-origin",
    });
    if (!response.ok) { form.submit(); return; }
    const result = await response.json();
    form.querySelector(".vote-count").textContent = String(result.upvotes);
    form.querySelector("input[name=action]").value = result.voted ? "undo" : "up";
    button.setAttribute("aria-pressed", String(result.voted));
    button.title = result.voted ? "Undo your upvote" : "Upvote";
  } catch (_) {
    form.submit();
  } finally {
    button.disabled = false;
  }
});
