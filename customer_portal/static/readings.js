/* Readings history: a consumption-by-month chart per meter (SPEC C12).
   The data comes from the figure's data-readings-chart attribute (JSON; values are exact decimal
   strings); the CSP allows no inline script. Without JavaScript or Chart.js the figure stays hidden
   and the table below it carries the same figures. */
(function () {
  "use strict";

  if (typeof window.Chart === "undefined") { return; }

  var locale = document.documentElement.lang || "ru";
  var format = new Intl.NumberFormat(locale, { maximumFractionDigits: 4 });

  function draw(figure) {
    var spec;
    try {
      spec = JSON.parse(figure.getAttribute("data-readings-chart"));
    } catch (error) {
      return;
    }
    var canvas = figure.querySelector("canvas");
    if (!canvas || !spec || !spec.labels || !spec.labels.length) { return; }
    figure.hidden = false;
    var stacked = spec.datasets.length > 1;
    new window.Chart(canvas, {
      type: "bar",
      data: {
        labels: spec.labels,
        datasets: spec.datasets.map(function (set) {
          return {
            label: set.label,
            stack: set.stack,
            backgroundColor: set.color,
            borderRadius: 3,
            maxBarThickness: 36,
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
          legend: { display: stacked, position: "bottom", labels: { boxWidth: 12, boxHeight: 12 } },
          tooltip: {
            callbacks: {
              label: function (item) {
                return item.dataset.label + ": " + format.format(item.parsed.y) + " " + spec.unit;
              }
            }
          }
        },
        scales: {
          x: {
            stacked: stacked,
            grid: { display: false },
            ticks: {
              maxRotation: 0,
              autoSkipPadding: 8,
              callback: function (value, index) { return (spec.ticks || spec.labels)[index]; }
            }
          },
          y: {
            stacked: stacked,
            beginAtZero: true,
            title: { display: true, text: spec.axis },
            ticks: { callback: function (value) { return format.format(value); } }
          }
        }
      }
    });
  }

  document.querySelectorAll("[data-readings-chart]").forEach(draw);
})();
