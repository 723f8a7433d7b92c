/* django-jobs admin dashboard: per-queue charts of the last hour, drawn with the vendored Chart.js.
 *
 * Reads the JSON of the element #django-jobs-charts's data-url (the admin's charts.json), draws
 * two charts per queue (jobs done and failed per minute; pickup latency p50 and p95 per minute),
 * then sets data-drawn="true" on the element. Times are shown in UTC, as the data is.
 */
"use strict";
(function () {
  const root = document.getElementById("django-jobs-charts");
  if (!root) {
    return;
  }
  const status = root.querySelector(".django-jobs-charts-status");
  const grid = root.querySelector(".django-jobs-charts-grid");

  function say(text) {
    status.textContent = text;
    status.hidden = !text;
  }

  if (typeof window.Chart === "undefined") {
    say("The charts could not be drawn: Chart.js did not load.");
    return;
  }

  const colors = {
    done: "#417690",
    failed: "#ba2121",
    p50: "#417690",
    p95: "#d08a1a",
    grid: "rgba(128, 128, 128, 0.2)",
  };
  // Text in the admin's own colours, so the charts read in its light and dark themes alike.
  const theme = getComputedStyle(document.documentElement);
  window.Chart.defaults.color = theme.getPropertyValue("--body-quiet-color").trim() || "#666";

  function seconds(value) {
    if (value === null || value === undefined) {
      return "";
    }
    if (value < 1) {
      return `${+(value * 1000).toPrecision(3)} ms`;
    }
    return `${+value.toPrecision(3)} s`;
  }

  // The log axis labels only 1, 2 and 5 times a power of ten, as the histogram's bounds are.
  function roundTick(value) {
    const mantissa = value / 10 ** Math.floor(Math.log10(value) + 1e-9);
    return [1, 2, 5].some((step) => Math.abs(mantissa - step) < 1e-6) ? seconds(value) : null;
  }

  function clock(iso) {
    return iso.slice(11, 16);
  }

  function baseOptions(title) {
    return {
      animation: false,
      responsive: true,
      maintainAspectRatio: false,
      interaction: { mode: "index", intersect: false },
      plugins: {
        title: { display: true, text: title, align: "start" },
        legend: { position: "bottom", labels: { boxWidth: 12 } },
      },
      scales: {
        x: { grid: { color: colors.grid }, ticks: { maxTicksLimit: 7, maxRotation: 0 } },
      },
    };
  }

  function throughput(canvas, labels, queue) {
    const options = baseOptions("Jobs per minute");
    options.scales.x.stacked = true;
    options.scales.y = {
      stacked: true,
      beginAtZero: true,
      grid: { color: colors.grid },
      ticks: { precision: 0 },
    };
    return new window.Chart(canvas, {
      type: "bar",
      data: {
        labels,
        datasets: [
          { label: "Done", data: queue.done, backgroundColor: colors.done },
          { label: "Failed (retried or dead)", data: queue.failed, backgroundColor: colors.failed },
        ],
      },
      options,
    });
  }

  function pickup(canvas, labels, queue) {
    const options = baseOptions("Pickup latency (ready to started)");
    // Whole decades, so the axis always has labelled ticks, however narrow the data's range.
    const values = [...queue.pickup_p50_seconds, ...queue.pickup_p95_seconds].filter((v) => v > 0);
    const low = values.length ? 10 ** Math.floor(Math.log10(Math.min(...values)) + 1e-9) : 0.001;
    const high = values.length ? 10 ** Math.ceil(Math.log10(Math.max(...values)) - 1e-9) : 1;
    options.scales.y = {
      type: "logarithmic",
      min: low,
      max: Math.max(high, low * 10),
      grid: { color: colors.grid },
      ticks: { callback: roundTick },
    };
    options.plugins.tooltip = {
      callbacks: { label: (item) => `${item.dataset.label}: ${seconds(item.parsed.y)}` },
    };
    const line = (label, data, color) => ({
      label,
      data,
      borderColor: color,
      backgroundColor: color,
      borderWidth: 2,
      // A minute with no neighbour on either side would draw no line: show it as a dot.
      pointRadius: (context) => {
        const values = context.dataset.data;
        const at = context.dataIndex;
        return values[at] !== null && values[at - 1] == null && values[at + 1] == null ? 3 : 0;
      },
      pointHitRadius: 6,
      spanGaps: false,
    });
    return new window.Chart(canvas, {
      type: "line",
      data: {
        labels,
        datasets: [
          line("p50", queue.pickup_p50_seconds, colors.p50),
          line("p95", queue.pickup_p95_seconds, colors.p95),
        ],
      },
      options,
    });
  }

  function panel(queue, kind) {
    const box = document.createElement("div");
    box.className = "django-jobs-chart";
    const canvas = document.createElement("canvas");
    canvas.dataset.queue = queue.queue;
    canvas.dataset.chart = kind;
    canvas.setAttribute("role", "img");
    box.appendChild(canvas);
    return { box, canvas };
  }

  function draw(data) {
    const labels = data.minutes.map(clock);
    if (!data.queues.length) {
      say("No job finished or started in the last hour (workers write their counts every 10 seconds).");
    } else {
      say("");
    }
    for (const queue of data.queues) {
      const section = document.createElement("section");
      section.className = "django-jobs-chart-queue";
      section.dataset.queue = queue.queue;
      const heading = document.createElement("h3");
      heading.textContent = queue.queue;
      section.appendChild(heading);
      const jobs = panel(queue, "throughput");
      const latency = panel(queue, "pickup");
      const done = queue.done.reduce((a, b) => a + b, 0);
      const failed = queue.failed.reduce((a, b) => a + b, 0);
      jobs.canvas.setAttribute("aria-label", `${queue.queue}: ${done} done, ${failed} failed in the last hour`);
      latency.canvas.setAttribute("aria-label", `${queue.queue}: pickup latency p50 and p95 per minute`);
      section.append(jobs.box, latency.box);
      grid.appendChild(section);
      throughput(jobs.canvas, labels, queue);
      pickup(latency.canvas, labels, queue);
    }
    root.dataset.drawn = "true";
  }

  fetch(root.dataset.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
    .then((response) => {
      if (!response.ok) {
        throw new Error(`the server answered ${response.status}`);
      }
      return response.json();
    })
    .then(draw)
    .catch((error) => say(`The charts could not be drawn: ${error.message}.`));
})();
