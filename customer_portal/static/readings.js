/* Readings history: a consumption-by-month chart per meter (SPEC C12).
   The data comes from the figure's data-readings-chart attribute (JSON; values are exact decimal
   strings); the common Chart.js set-up is in charts.js, loaded before this file. */
(function () {
  "use strict";

  var charts = window.PortalCharts;
  if (!charts) { return; }

  var format = charts.numbers({ maximumFractionDigits: 4 });

  charts.each("data-readings-chart", function (canvas, spec) {
    var stacked = spec.datasets.length > 1;
    charts.bar(canvas, spec, spec.datasets, {
      maxBarThickness: 36,
      stacked: stacked,
      legend: stacked,
      tooltipLabel: function (item) {
        return item.dataset.label + ": " + format.format(item.parsed.y) + " " + spec.unit;
      },
      yTitle: spec.axis,
      yTicks: function (value) { return format.format(value); }
    });
  });
})();
