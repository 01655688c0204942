/* Notifications (SPEC C16): folding long texts, modal notifications with "1 of N", closing banners in place.
   Every action is a plain POST form that works without this script; here they are sent with fetch. */
(function () {
  "use strict";

  function post(form) {
    return fetch(form.action, {
      method: "POST", body: new FormData(form), credentials: "same-origin",
      headers: { "Accept": "application/json" }
    }).then(function (response) {
      if (!response.ok) { throw new Error(String(response.status)); }
      return response.json();
    });
  }

  function setBell(count) {
    var bell = document.getElementById("inbox-bell");
    if (!bell || typeof count !== "number") { return; }
    var badge = bell.querySelector("[data-bell-count]");
    if (badge) {
      badge.textContent = String(count);
      badge.classList.toggle("d-none", count === 0);
    }
    var label = count ? bell.getAttribute("data-label-some").replace("{count}", String(count))
      : bell.getAttribute("data-label-none");
    bell.setAttribute("aria-label", label);
    var menuBadge = document.querySelector('[data-menu-badge="notifications"]');
    if (menuBadge) {
      menuBadge.firstChild.textContent = String(count);
      menuBadge.classList.toggle("d-none", count === 0);
    }
  }

  /* Long texts: folded with "more" / "hide"; unfolding an unread one marks it read. */
  function markItemRead(item) {
    if (!item || item.getAttribute("data-read") === "true") { return; }
    var form = item.querySelector("form[data-inbox-read]");
    if (!form) { return; }
    item.setAttribute("data-read", "true");
    post(form).then(function (data) {
      setBell(data.bell);
      showAsRead(item, form);
    }).catch(function () {
      item.setAttribute("data-read", "false");
    });
  }

  function showAsRead(item, form) {
    item.classList.remove("inbox-unread");
    var icon = item.querySelector(".inbox-icon");
    if (icon) { icon.classList.add("is-read"); }
    item.querySelectorAll("[data-read-mark]").forEach(function (mark) { mark.classList.remove("d-none"); });
    item.querySelectorAll("[data-unread-mark]").forEach(function (mark) { mark.classList.add("d-none"); });
    form.remove();
    var tab = document.querySelector("[data-tab-unread]");
    if (tab && tab.firstChild) {
      var left = Math.max(0, parseInt(tab.firstChild.textContent, 10) - 1);
      tab.firstChild.textContent = String(left);
      tab.classList.toggle("d-none", left === 0);
    }
  }

  document.querySelectorAll("[data-fold]").forEach(function (body) {
    var toggle = body.parentElement.querySelector(".inbox-fold-toggle");
    if (!toggle) { return; }
    body.classList.add("is-folded");
    toggle.classList.remove("d-none");
    toggle.addEventListener("click", function () {
      var folded = body.classList.toggle("is-folded");
      toggle.textContent = toggle.getAttribute(folded ? "data-more" : "data-hide");
      toggle.setAttribute("aria-expanded", folded ? "false" : "true");
      if (!folded) { markItemRead(body.closest("[data-delivery-id]")); }
    });
  });

  /* Banners: close in place (the banner stays in the list). */
  document.querySelectorAll("form[data-inbox-dismiss]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      post(form).then(function (data) {
        var banner = form.closest("[data-inbox-banner]");
        if (banner) { banner.remove(); }
        setBell(data.bell);
      }).catch(function () { form.submit(); });
    });
  });

  /* Modal notifications: shown after sign-in and on later pages until each is confirmed. */
  var modalElement = document.querySelector("[data-inbox-modal]");
  if (!modalElement || !window.bootstrap) { return; }
  var modal = new window.bootstrap.Modal(modalElement);
  var current = 0;

  function panes() { return Array.prototype.slice.call(modalElement.querySelectorAll("[data-pane]")); }

  function show(index) {
    var all = panes();
    if (!all.length) { modal.hide(); return; }
    current = Math.max(0, Math.min(index, all.length - 1));
    all.forEach(function (pane, position) { pane.classList.toggle("d-none", position !== current); });
    var title = all[current].querySelector(".modal-title");
    if (title) { modalElement.setAttribute("aria-labelledby", title.id); }
    var nav = modalElement.querySelector("[data-nav]");
    nav.classList.toggle("d-none", all.length < 2);
    nav.querySelector("[data-counter]").textContent = modalElement.getAttribute("data-counter-template")
      .replace("{current}", String(current + 1)).replace("{total}", String(all.length));
    nav.querySelector("[data-prev]").disabled = current === 0;
    nav.querySelector("[data-next]").disabled = current === all.length - 1;
  }

  modalElement.querySelector("[data-prev]").addEventListener("click", function () { show(current - 1); });
  modalElement.querySelector("[data-next]").addEventListener("click", function () { show(current + 1); });
  modalElement.querySelectorAll("form[data-inbox-confirm]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var button = form.querySelector("button[type=submit]");
      button.disabled = true;
      post(form).then(function (data) {
        form.closest("[data-pane]").remove();
        setBell(data.bell);
        show(current);
      }).catch(function () { form.submit(); });
    });
  });
  show(0);
  modal.show();
})();
