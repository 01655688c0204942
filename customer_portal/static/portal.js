/* Customer portal behaviour. Loaded as a static file (no inline scripts, CSP-friendly). */
(function () {
  "use strict";

  /* Live filter: <input data-portal-filter="#list"> hides the [data-filter-item] children of #list
     whose data-filter-text does not contain every typed word; [data-filter-empty="#list"] is shown
     when nothing matches. */
  function normalise(text) {
    return (text || "").toLocaleLowerCase().replace(/ё/g, "е").trim();
  }

  function applyFilter(input) {
    var list = document.querySelector(input.getAttribute("data-portal-filter"));
    if (!list) { return; }
    var words = normalise(input.value).split(/\s+/).filter(Boolean);
    var shown = 0;
    list.querySelectorAll("[data-filter-item]").forEach(function (item) {
      var haystack = normalise(item.getAttribute("data-filter-text") || item.textContent);
      var match = words.every(function (word) { return haystack.indexOf(word) !== -1; });
      item.classList.toggle("d-none", !match);
      if (match) { shown += 1; }
    });
    var empty = document.querySelector('[data-filter-empty="' + input.getAttribute("data-portal-filter") + '"]');
    if (empty) { empty.classList.toggle("d-none", shown !== 0); }
  }

  document.addEventListener("input", function (event) {
    if (event.target.matches && event.target.matches("[data-portal-filter]")) {
      applyFilter(event.target);
    }
  });

  /* Focus the contract filter when the selector opens, so typing searches at once. */
  document.addEventListener("shown.bs.dropdown", function (event) {
    var menu = event.target.parentElement && event.target.parentElement.querySelector(".contract-selector-menu");
    var input = menu && menu.querySelector("[data-portal-filter]");
    if (input) { input.focus(); }
  });
})();
