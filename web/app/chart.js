// Charts on uPlot (vendored in app/vendor/uplot, loaded by index.html as `uPlot`): a
// line chart for time series and stacked bars for movements. Every chart has a table of
// the same numbers beside it (in a <details>), for screen readers and for exact values.

import { h } from "./ui.js";

/** @type {any} */
const uPlot = /** @type {any} */ (globalThis).uPlot;

export const PALETTE = ["#3b5bdb", "#e8590c", "#2b8a3e", "#ae3ec9", "#c92a2a", "#1098ad", "#f59f00", "#495057"];

/**
 * `dash`: a dashed line (a comparison, a forecast's band).
 * @typedef {{ label: string, values: (number | null)[], color?: string, dash?: boolean }} Series
 * `band`: the indexes in `series` of a high and a low line whose space between is shaded.
 * @typedef {{ title: string, x: number[], series: Series[], format: (v: number) => string, axisFormat?: (v: number) => string, stacked?: boolean, stepped?: boolean, integer?: boolean, band?: [number, number] }} ChartSpec
 */

/** The width a chart gets inside `el` (its container may not be laid out yet). */
function widthOf(/** @type {HTMLElement} */ el) {
  return Math.max(280, Math.floor(el.clientWidth || el.getBoundingClientRect().width || 600));
}

/**
 * A chart with its data table. `x` are Unix seconds.
 * @param {ChartSpec} spec
 */
export function chart(spec) {
  const plot = h("div", { class: "plot", role: "img", "aria-label": `${spec.title} chart; the numbers are in the table below it` });
  const wrap = h("figure", { class: "chart" }, h("figcaption", {}, spec.title), plot, dataTable(spec));
  wrap.dataset.points = JSON.stringify(spec.series.map((s) => s.values));
  requestAnimationFrame(() => draw(plot, spec));
  return wrap;
}

/** @param {HTMLElement} plot @param {ChartSpec} spec */
function draw(plot, spec) {
  if (!uPlot) {
    plot.textContent = "The chart library did not load.";
    return;
  }
  const width = widthOf(plot);
  const height = width < 500 ? 220 : 280;
  const stacked = Boolean(spec.stacked);
  const colored = spec.series.map((s, i) => ({ ...s, color: s.color || PALETTE[i % PALETTE.length] }));
  // Stacked: each bar is a running total, drawn outermost first so the inner ones show.
  const values = stacked ? stack(colored) : colored.map((s) => s.values);
  const order = stacked ? colored.map((_, i) => colored.length - 1 - i) : colored.map((_, i) => i);
  const data = [spec.x, ...order.map((i) => values[i])];
  // Stepped: a value holds until the next point (a customer's MRR between changes).
  const paths = stacked ? uPlot.paths.bars({ size: [0.7, 48] }) : spec.stepped ? uPlot.paths.stepped({ align: 1 }) : undefined;
  const axisFormat = spec.axisFormat || spec.format;
  const opts = {
    width,
    height,
    legend: { show: !stacked && colored.length > 1 },
    cursor: { drag: { x: false, y: false } },
    scales: {
      // One point alone would stretch the axis over years: show a week around it.
      x: spec.x.length === 1 ? { time: true, auto: false, range: [spec.x[0] - 3 * 86400, spec.x[0] + 3 * 86400] } : { time: true },
    },
    axes: [
      { stroke: "#495057", grid: { stroke: "#eceef1" } },
      { stroke: "#495057", grid: { stroke: "#eceef1" }, size: 64, incrs: spec.integer ? [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000, 10000] : undefined, values: (/** @type {any} */ _u, /** @type {number[]} */ ticks) => ticks.map(axisFormat) },
    ],
    series: [
      {},
      ...order.map((i) => colored[i]).map((s) => ({
        label: s.label,
        stroke: s.color,
        fill: stacked ? s.color : undefined,
        width: stacked ? 0 : 2,
        dash: s.dash ? [6, 4] : undefined,
        paths,
        points: { show: Boolean(spec.stepped) },
        value: (/** @type {any} */ _u, /** @type {number | null} */ v) => (v === null || v === undefined ? "—" : spec.format(v)),
      })),
    ],
    // uPlot counts the x values as series 0.
    bands: spec.band && !stacked ? [{ series: [spec.band[0] + 1, spec.band[1] + 1], fill: "rgba(59, 91, 219, 0.12)" }] : undefined,
  };
  plot.replaceChildren();
  const instance = new uPlot(opts, data, plot);
  const observer = new ResizeObserver(() => instance.setSize({ width: widthOf(plot), height }));
  observer.observe(plot);
}

/**
 * Stacked bars drawn as overlapping bars: positives stack upwards in order, negatives
 * downwards; each drawn bar is the running total, the outermost first.
 * @param {Series[]} series
 */
function stack(series) {
  const n = series[0] ? series[0].values.length : 0;
  const up = new Array(n).fill(0);
  const down = new Array(n).fill(0);
  const totals = series.map((s) =>
    s.values.map((v, i) => {
      const value = v || 0;
      if (value >= 0) {
        up[i] += value;
        return up[i];
      }
      down[i] += value;
      return down[i];
    }),
  );
  return totals;
}

/** The chart's numbers as a table. @param {ChartSpec} spec */
function dataTable(spec) {
  return h(
    "details",
    { class: "chart-data" },
    h("summary", {}, "Show the numbers"),
    h(
      "div",
      { class: "table-wrap" },
      h(
        "table",
        {},
        h("caption", { class: "visually-hidden" }, spec.title),
        h("thead", {}, h("tr", {}, h("th", { scope: "col" }, "Period"), spec.series.map((s) => h("th", { scope: "col", class: "num" }, s.label)))),
        h(
          "tbody",
          {},
          spec.x.map((x, i) =>
            h(
              "tr",
              {},
              h("th", { scope: "row" }, new Date(x * 1000).toISOString().slice(0, 10)),
              spec.series.map((s) => h("td", { class: "num" }, s.values[i] === null || s.values[i] === undefined ? "—" : spec.format(/** @type {number} */ (s.values[i])))),
            ),
          ),
        ),
      ),
    ),
  );
}

/** A legend for stacked bars (uPlot's shows running totals there). @param {Series[]} series */
export function legend(series) {
  return h(
    "ul",
    { class: "legend" },
    series.map((s, i) => h("li", {}, h("span", { class: `swatch c${i}`, "aria-hidden": "true" }), s.label)),
  );
}
