/* Shared Chart.js set-up of the portal's bar charts (readings history, settlements).
   A page's figure carries its data as JSON in a data-* attribute (the CSP allows no inline script);
   without JavaScript or Chart.js the figure stays hidden and the table next to it carries the same
   figures. Each page's own file (readings.js, finance_chart.js) says what differs. */
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") { return; }

  var locale = document.documentElement.lang || "ru";

  function numbers(options) { return new Intl.NumberFormat(locale, options); }

  /* Calls draw(canvas, spec) for every figure with the attribute whose JSON has labels. */
  function each(attribute, draw) {
    document.querySelectorAll("[" + attribute + "]").forEach(function (figure) {
      var spec;
      try {
        spec = JSON.parse(figure.getAttribute(attribute));
      } catch (error) {
        return;
      }
      var canvas = figure.querySelector("canvas");
      if (!canvas || !spec || !spec.labels || !spec.labels.length) { return; }
      figure.hidden = false;
      draw(canvas, spec);
    });
  }

  /* A bar chart of spec.labels; sets are {label, color, data (decimal strings or null), stack?}.
     o: maxBarThickness, stacked, legend (shown unless false), tooltipTitle, tooltipLabel(item),
     yTicks(value), yTitle. */
  function bar(canvas, spec, sets, o) {
    var stacked = !!o.stacked;
    var callbacks = { label: o.tooltipLabel };
    if (o.tooltipTitle) { callbacks.title = o.tooltipTitle; }
    var legend = { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } };
    if (o.legend === false) { legend.display = false; }
    var y = { beginAtZero: true, ticks: { callback: o.yTicks } };
    if (o.yTitle) { y.title = { display: true, text: o.yTitle }; }
    if (stacked) { y.stacked = true; }
    var x = {
      grid: { display: false },
      ticks: {
        maxRotation: 0,
        autoSkipPadding: 8,
        callback: function (value, index) { return (spec.ticks || spec.labels)[index]; }
      }
    };
    if (stacked) { x.stacked = true; }
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: sets.map(function (set) {
          var dataset = {
            label: set.label,
            backgroundColor: set.color,
            borderRadius: 3,
            maxBarThickness: o.maxBarThickness,
            data: set.data.map(function (value) { return value === null ? null : Number(value); })
          };
          if (set.stack !== undefined) { dataset.stack = set.stack; }
          return dataset;
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: legend, tooltip: { callbacks: callbacks } },
        scales: { x: x, y: y }
      }
    });
  }

  window.PortalCharts = { numbers: numbers, each: each, bar: bar };
})();
