// Access application forms: a follow-up question (data-show-if="q:<id>", data-show-value="<option>") is shown
// only while that option is chosen. Without script every follow-up stays visible and says when it applies;
// the server asks for a follow-up only when its condition holds.
"use strict";
(function () {
  function chosen(form, name) {
    const values = [];
    for (const input of form.querySelectorAll("input")) {
      if (input.name !== name) continue;
      if ((input.type === "radio" || input.type === "checkbox") && input.checked) values.push(input.value);
    }
    return values;
  }
  function update(root) {
    const blocks = root.querySelectorAll("[data-show-if]");
    // parents come before their follow-ups, so one pass in document order settles nested follow-ups
    for (const block of blocks) {
      const form = block.closest("form") || document;
      const parentBlock = document.getElementById("q-" + block.dataset.showIf.slice(2));
      const parentShown = !parentBlock || !parentBlock.hidden;
      const show = parentShown && chosen(form, block.dataset.showIf).includes(block.dataset.showValue);
      block.hidden = !show;
      const note = block.querySelector(".dar-when");
      if (note) note.hidden = true;
    }
  }
  document.addEventListener("change", (event) => {
    const target = event.target;
    if (target instanceof HTMLInputElement && target.name.startsWith("q:")) update(document);
  });
  document.addEventListener("DOMContentLoaded", () => update(document));
})();
