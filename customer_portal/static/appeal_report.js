/* Charts of the back office's appeals report (SPEC B8). Data comes as JSON in data-* attributes;
   without JavaScript the tables below the charts carry the same figures. */
(function () {
  "use strict";
  if (typeof window.Chart === "undefined") { return; }

  function spec(figure, attribute) {
    try { return JSON.parse(figure.getAttribute(attribute)); } catch (error) { return null; }
  }

  var days = document.querySelector("[data-report-days]");
  if (days) {
    var d = spec(days, "data-report-days");
    if (d && d.labels.length) {
      days.hidden = false;
      new window.Chart(days.querySelector("canvas"), {
        type: "line",
        data: { labels: d.labels, datasets: [{ label: d.label, data: d.data, borderColor: "#1f6feb",
                                               backgroundColor: "rgba(31,111,235,0.15)", fill: true, tension: 0 }] },
        options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } }
      });
    }
  }

  var sections = document.querySelector("[data-report-sections]");
  if (sections) {
    var s = spec(sections, "data-report-sections");
    if (s && s.labels.length) {
      sections.hidden = false;
      new window.Chart(sections.querySelector("canvas"), {
        type: "bar",
        data: { labels: s.labels, datasets: [
          { label: s.open_label, data: s.open, backgroundColor: "#f0ad4e", stack: "a" },
          { label: s.closed_label, data: s.closed, backgroundColor: "#5cb85c", stack: "a" }
        ] },
        options: { indexAxis: "y", plugins: { legend: { position: "bottom" } },
                   scales: { x: { stacked: true, beginAtZero: true, ticks: { precision: 0 } }, y: { stacked: true } } }
      });
    }
  }
}());
