// Progress of a background task (portal/task.html): sizes the bar from data-percent (the CSP forbids
// inline styles), then polls the task's JSON every second and reloads the page once the task is
// finished, so the download link (or the error) is rendered by the server.
(function () {
  "use strict";
  var card = document.getElementById("task");
  if (!card) { return; }
  var bar = document.getElementById("task-progress-bar");
  var wrapper = document.getElementById("task-progress");
  var done = document.getElementById("task-done");
  var total = document.getElementById("task-total");

  function show(state) {
    bar.style.width = state.percent + "%";
    bar.textContent = state.percent + "%";
    wrapper.setAttribute("aria-valuenow", String(state.percent));
    if (done && state.progress !== undefined) { done.textContent = String(state.progress); }
    if (total && state.total !== undefined) { total.textContent = String(state.total); }
  }

  show({percent: parseInt(bar.getAttribute("data-percent"), 10) || 0});
  var status = card.getAttribute("data-status");
  if (status === "done" || status === "failed") { return; }

  function poll() {
    fetch(card.getAttribute("data-status-url"), {credentials: "same-origin", headers: {"Accept": "application/json"}})
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (state) {
        if (!state) { window.setTimeout(poll, 3000); return; }
        show(state);
        if (state.status === "done" || state.status === "failed") {
          window.location.reload();
          return;
        }
        window.setTimeout(poll, 1000);
      })
      .catch(function () { window.setTimeout(poll, 3000); });
  }
  window.setTimeout(poll, 1000);
})();
