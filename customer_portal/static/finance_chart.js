/* Settlements: invoices and payments by month for the contract (SPEC C12, seed 004 §4.6).
   The data comes from the figure's data-finance-chart attribute (JSON; amounts are exact decimal
   strings); the CSP allows no inline script. Without JavaScript or Chart.js the figure stays hidden
   and the table next to it carries the same figures. */
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") { return; }

  var locale = document.documentElement.lang || "ru";
  var format = new Intl.NumberFormat(locale, { minimumFractionDigits: 2, maximumFractionDigits: 2 });
  var compact = new Intl.NumberFormat(locale, { notation: "compact", maximumFractionDigits: 1 });

  function draw(figure) {
    var spec;
    try {
      spec = JSON.parse(figure.getAttribute("data-finance-chart"));
    } catch (error) {
      return;
    }
    var canvas = figure.querySelector("canvas");
    if (!canvas || !spec || !spec.labels || !spec.labels.length) { return; }
    figure.hidden = false;
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.series.map(function (set) {
          return {
            label: set.label,
            backgroundColor: set.color,
            borderRadius: 3,
            maxBarThickness: 28,
            data: set.data.map(function (value) { return value === null ? null : Number(value); })
          };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: {
          legend: { position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            callbacks: {
              title: function (items) { return items.length ? spec.labels[items[0].dataIndex] : ""; },
              label: function (item) {
                return item.dataset.label + ": " + format.format(item.parsed.y) + " " + spec.currency;
              }
            }
          }
        },
        scales: {
          x: {
            grid: { display: false },
            ticks: {
              maxRotation: 0,
              autoSkipPadding: 8,
              callback: function (value, index) { return (spec.ticks || spec.labels)[index]; }
            }
          },
          y: {
            beginAtZero: true,
            ticks: { callback: function (value) { return compact.format(value) + " " + spec.currency; } }
          }
        }
      }
    });
  }

  document.querySelectorAll("[data-finance-chart]").forEach(draw);
})();
