/* Appeals: enhancements only (every page works without it). Loaded as a static file (strict CSP). */
(function () {
  "use strict";

  /* Progress bars carry their width in data-progress (no inline styles under the CSP). */
  document.querySelectorAll(".appeal-progress [data-progress]").forEach(function (bar) {
    bar.style.width = Math.max(0, Math.min(100, Number(bar.getAttribute("data-progress")) || 0)) + "%";
  });

  /* Forms that file or send something submit once: a double click must not send twice (the server
     also refuses a second "Send" of the same wizard page). */
  document.querySelectorAll("form[data-submit-once]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.getAttribute("data-submitted") === "1") {
        event.preventDefault();
        return;
      }
      form.setAttribute("data-submitted", "1");
      form.setAttribute("aria-busy", "true");
    });
  });

  /* New appeal, step 1: offer only the objects of the chosen contract and the subsections of the
     chosen section; the server checks the same rules. */
  function filterOptions(select, attribute, value) {
    if (!select) { return 0; }
    var shown = 0;
    select.querySelectorAll("optgroup").forEach(function (group) {
      var match = group.getAttribute(attribute) === value;
      group.hidden = !match;
      group.disabled = !match;
      if (match) { shown += group.querySelectorAll("option").length; }
    });
    var selected = select.options[select.selectedIndex];
    if (selected && selected.parentElement.tagName === "OPTGROUP" && selected.parentElement.disabled) {
      select.value = "";
    }
    return shown;
  }

  var form = document.querySelector("[data-appeal-choice]");
  if (form) {
    var contract = form.querySelector("[data-appeal-contract]");
    var object = form.querySelector("[data-appeal-object]");
    var section = form.querySelector("[data-appeal-section]");
    var subsection = form.querySelector("[data-appeal-subsection]");
    var update = function () {
      var objects = filterOptions(object, "data-contract", contract.value);
      object.disabled = objects === 0;
      var subsections = filterOptions(subsection, "data-section", section.value);
      subsection.disabled = subsections === 0;
      subsection.required = subsections > 0;
      var empty = subsection.options[0];
      if (empty) {
        if (!empty.hasAttribute("data-none-text")) { empty.setAttribute("data-none-text", empty.textContent); }
        empty.textContent = subsections > 0 ? (subsection.getAttribute("data-choose-text") || empty.textContent)
                                            : empty.getAttribute("data-none-text");
      }
    };
    /* A choice made after a refused submit clears that field's error. */
    var clearError = function (event) {
      var select = event.target;
      select.classList.remove("is-invalid");
      select.removeAttribute("aria-invalid");
      var error = document.getElementById(select.id + "-error");
      if (error) { error.remove(); }
    };
    [contract, object, section, subsection].forEach(function (select) {
      if (select) { select.addEventListener("change", clearError); }
    });
    contract.addEventListener("change", update);
    section.addEventListener("change", update);
    update();
  }
})();
