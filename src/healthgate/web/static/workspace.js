// The custodian workspace: small enhancements only; every page works without script.
"use strict";
document.addEventListener("submit", (event) => {
  const form = event.target;
  const question = form instanceof HTMLFormElement ? form.dataset.confirm : undefined;
  // "add another" / "remove" buttons re-show the form; they need no confirmation
  if (question && !(event.submitter && event.submitter.name === "op") && !window.confirm(question)) {
    event.preventDefault();
  }
});
document.addEventListener("click", (event) => {
  const button = event.target instanceof Element ? event.target.closest("[data-copy]") : null;
  if (!button) return;
  const source = document.getElementById(button.dataset.copy);
  if (source && navigator.clipboard) {
    navigator.clipboard.writeText(source.textContent.trim()).then(() => { button.textContent = "Copied"; });
  }
});
document.addEventListener("DOMContentLoaded", () => {
  const summary = document.querySelector(".error-summary");
  if (summary) summary.focus();
  // open a closed section that holds the field a link points at
  if (location.hash) {
    const target = document.querySelector(location.hash.replace(/([.\[\]])/g, "\\$1"));
    if (target) target.scrollIntoView();
  }
});
