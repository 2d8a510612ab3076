// Progressive enhancement: the page works without this; with it, ticking a facet applies it at once and the
// page comes back at that facet (its fragment), so keyboard users keep their place.
document.querySelectorAll("#facet-form input[type=checkbox]").forEach(function (box) {
  box.addEventListener("change", function () {
    var facet = box.closest("fieldset");
    if (facet && facet.id) { box.form.action = "/search#" + facet.id; }
    box.form.submit();
  });
});
// Empty fields (no dates given) are left out of the URL.
document.querySelectorAll("#facet-form, #search-form").forEach(function (form) {
  form.addEventListener("submit", function () {
    form.querySelectorAll("input[name]").forEach(function (input) {
      if (input.value === "") { input.disabled = true; }
    });
  });
});
