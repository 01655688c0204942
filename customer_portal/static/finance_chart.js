/* Settlements: invoices and payments by month for the contract (SPEC C12, seed 004 §4.6).
   The data comes from the figure's data-finance-chart attribute (JSON; amounts are exact decimal
   strings); the common Chart.js set-up is in charts.js, loaded before this file. */
(function () {
  "use strict";

  var charts = window.PortalCharts;
  if (!charts) { return; }

  var format = charts.numbers({ minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var compact = charts.numbers({ notation: "compact", maximumFractionDigits: 1 });

  charts.each("data-finance-chart", function (canvas, spec) {
    charts.bar(canvas, spec, spec.series, {
      maxBarThickness: 28,
      tooltipTitle: function (items) { return items.length ? spec.labels[items[0].dataIndex] : ""; },
      tooltipLabel: function (item) {
        return item.dataset.label + ": " + format.format(item.parsed.y) + " " + spec.currency;
      },
      yTicks: function (value) { return compact.format(value) + " " + spec.currency; }
    });
  });
})();
