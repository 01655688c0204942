// Getting-started tips: "Hide tips" without leaving the page (the form still works without JS).
(function () {
  "use strict";
  document.querySelectorAll("form[data-tips-hide]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      fetch(form.action, {
        method: "POST",
        body: new FormData(form),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        if (!response.ok) { throw new Error(String(response.status)); }
        var widget = form.closest("[data-tips-widget]");
        if (widget) { widget.remove(); }
      }).catch(function () { form.submit(); });
    });
  });
})();
