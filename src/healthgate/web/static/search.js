// Progressive enhancement: the page works without this; with it, ticking a facet applies it at once.
document.querySelectorAll("#facet-form input[type=checkbox]").forEach(function (box) {
  box.addEventListener("change", function () { box.form.submit(); });
});
