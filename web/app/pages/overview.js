// Overview: the headline figures beside their values a month earlier, MRR as a line
// (one line per group with `group_by`) and the MRR movements as stacked bars. Every
// control writes the URL (`#/overview?from=…&filter[country]=de`), so a view can be
// shared and the back button returns to the previous one.

import { call } from "../api.js";
import { chart, legend } from "../chart.js";
import { h, replace, money, moneyShort, percent, count, isoDay, day, card, loading, notice, errorText, pageHeader } from "../ui.js";

const INTERVALS = ["day", "week", "month", "quarter", "year"];
const MOVEMENTS = /** @type {const} */ ([
  ["new", "New"],
  ["expansion", "Expansion"],
  ["reactivation", "Reactivation"],
  ["contraction", "Contraction"],
  ["churn", "Churn"],
]);

/** @typedef {import("../main.js").PageContext} PageContext */

/** The view the URL asks for, with the API's defaults filled in for the controls. */
function viewOf(/** @type {URLSearchParams} */ params) {
  const today = new Date();
  const defaultFrom = new Date(Date.UTC(today.getUTCFullYear(), today.getUTCMonth() - 11, 1));
  /** @type {Record<string, string>} */
  const filters = {};
  params.forEach((value, key) => {
    const m = /^filter\[([a-z_]+)\]$/.exec(key);
    if (m && value) filters[m[1]] = value;
  });
  return {
    from: params.get("from") || isoDay(defaultFrom),
    to: params.get("to") || isoDay(today),
    interval: INTERVALS.includes(params.get("interval") || "") ? /** @type {string} */ (params.get("interval")) : "month",
    currency: params.get("currency") || "",
    groupBy: params.get("group_by") || "",
    filters,
  };
}

/** @typedef {ReturnType<typeof viewOf>} View */

/** The query of a metrics call for `view`. @param {View} view */
function queryOf(view, extra = {}) {
  /** @type {Record<string, string>} */
  const query = { currency: view.currency, ...extra };
  for (const [dim, value] of Object.entries(view.filters)) query[`filter[${dim}]`] = value;
  return query;
}

/** The URL of `view`. @param {View} view */
function hashOf(view) {
  const params = new URLSearchParams();
  params.set("from", view.from);
  params.set("to", view.to);
  params.set("interval", view.interval);
  if (view.currency) params.set("currency", view.currency);
  for (const [dim, value] of Object.entries(view.filters)) params.set(`filter[${dim}]`, value);
  if (view.groupBy) params.set("group_by", view.groupBy);
  return `#/overview?${params}`;
}

/** The same day a month earlier (the end of the month when it has fewer days). */
function monthBefore(/** @type {string} */ date) {
  const d = new Date(`${date}T00:00:00Z`);
  const target = new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1));
  const last = new Date(Date.UTC(target.getUTCFullYear(), target.getUTCMonth() + 1, 0)).getUTCDate();
  target.setUTCDate(Math.min(d.getUTCDate(), last));
  return isoDay(target);
}

/** @param {PageContext} ctx */
export async function render(ctx) {
  const view = viewOf(ctx.params);
  const figures = h("div", { class: "figures-slot", "aria-busy": "true" }, loading());
  const charts = h("div", { class: "charts" });
  const controls = h("div", { class: "controls-slot" });
  replace(
    ctx.main,
    pageHeader("Overview", `${ctx.me.tenant.company}: revenue and customers from ${day(view.from)} to ${day(view.to)}.`),
    controls,
    figures,
    charts,
  );
  const dimensions = await call("GET", "/v1/dimensions").catch(() => ({}));
  replace(controls, controlsForm(ctx, view, dimensions));
  const asOfPrevious = monthBefore(view.to);
  let current;
  let previous;
  try {
    [current, previous] = await Promise.all([
      call("GET", "/v1/metrics/summary", { query: queryOf(view, { as_of: view.to }) }),
      call("GET", "/v1/metrics/summary", { query: queryOf(view, { as_of: asOfPrevious }) }),
    ]);
  } catch (err) {
    replace(figures, notice(err && /** @type {any} */ (err).code === "no_data_yet" ? "info" : "error", noDataText(err)));
    figures.removeAttribute("aria-busy");
    return;
  }
  const grr = await call("GET", "/v1/metrics/grr", {
    query: queryOf(view, { interval: "month", from: previous.rates_from.slice(0, 10), to: current.rates_to.slice(0, 10) }),
  }).catch(() => null);
  const grrAt = (/** @type {string} */ start) => {
    const point = grr && grr.series.find((/** @type {any} */ p) => p.period_start.slice(0, 10) === start.slice(0, 10));
    return point ? point.value : null;
  };
  const cur = current.currency;
  const prevCur = previous.currency;
  replace(
    figures,
    h(
      "dl",
      { class: "figures" },
    figure("mrr", "MRR", current.mrr, previous.mrr, (v) => money(v, cur), money(previous.mrr, prevCur)),
    figure("arr", "ARR", current.arr, previous.arr, (v) => money(v, cur), money(previous.arr, prevCur)),
    figure("customers", "Customers", current.customers, previous.customers, count),
    figure("customer_churn_rate", "Customer churn", current.customer_churn_rate, previous.customer_churn_rate, percent, undefined, true),
    figure("nrr", "NRR", current.nrr, previous.nrr, percent),
    figure("grr", "GRR", grrAt(current.rates_from), grrAt(previous.rates_from), percent),
    figure("arpu", "ARPU", current.arpu, previous.arpu, (v) => money(v, cur), money(previous.arpu, prevCur)),
    figure("ltv", "LTV", current.ltv, previous.ltv, (v) => money(v, cur), money(previous.ltv, prevCur)),
    ),
  );
  figures.removeAttribute("aria-busy");
  figures.appendChild(
    h("p", { class: "figures-note" }, `As of ${day(view.to)}, compared with ${day(asOfPrevious)}. Churn, NRR and GRR cover the last complete month (${day(current.rates_from)} – ${day(current.rates_to)}). Data as of ${day(current.data_as_of)}. Currency ${cur.toUpperCase()}.`),
  );
  if (current.unconverted && current.unconverted.length) {
    figures.appendChild(notice("warning", `Some revenue has no exchange rate into ${cur.toUpperCase()} and is not included: ${current.unconverted.map((/** @type {any} */ u) => money(u.amount, u.currency)).join(", ")}.`));
  }
  await renderCharts(charts, view);
}

/** @param {unknown} err */
function noDataText(err) {
  const code = err && /** @type {any} */ (err).code;
  if (code === "no_data_yet") return "No data yet: connect Stripe under Integrations; the figures appear once the first sync has finished.";
  return errorText(err);
}

/**
 * One headline figure with its value a month earlier and the change.
 * @param {string} key @param {string} label
 * @param {number | null} value @param {number | null} before
 * @param {(v: number | null) => string} format
 * @param {string} [beforeText] @param {boolean} [lowerIsBetter]
 */
function figure(key, label, value, before, format, beforeText, lowerIsBetter = false) {
  /** @type {HTMLElement | null} */
  let change = null;
  if (value !== null && before !== null && value !== undefined && before !== undefined && before !== 0) {
    const ratio = (value - before) / Math.abs(before);
    const up = ratio > 0;
    const good = ratio === 0 ? "flat" : up !== lowerIsBetter ? "good" : "bad";
    change = h("span", { class: `change ${good}` }, `${up ? "▲" : ratio < 0 ? "▼" : "■"} ${percent(Math.abs(ratio))}`);
  }
  return h(
    "div",
    { class: "figure", "data-figure": key, "data-value": value === null || value === undefined ? "" : String(value) },
    h("dt", {}, label),
    h("dd", { class: "value" }, format(value)),
    h("dd", { class: "previous" }, "Month before: ", beforeText || format(before), " ", change),
  );
}

/** @param {HTMLElement} el @param {View} view */
async function renderCharts(el, view) {
  const range = { from: view.from, to: view.to, interval: view.interval };
  const mrrQuery = queryOf(view, { ...range, group_by: view.groupBy });
  try {
    const [mrr, movements] = await Promise.all([
      call("GET", "/v1/metrics/mrr", { query: mrrQuery }),
      call("GET", "/v1/metrics/mrr_movements", { query: queryOf(view, range) }),
    ]);
    const cur = mrr.currency;
    const fmt = (/** @type {number} */ v) => money(v, cur);
    const axisFormat = (/** @type {number} */ v) => moneyShort(v, cur);
    const toX = (/** @type {any[]} */ series) => series.map((p) => Date.parse(p.period_start) / 1000);
    /** @type {import("../chart.js").Series[]} */
    let lines;
    let x;
    if (mrr.groups && mrr.groups.length) {
      const groups = [...mrr.groups]
        .sort((a, b) => last(b.series) - last(a.series))
        .slice(0, 8);
      x = toX(groups[0].series);
      lines = groups.map((g) => ({ label: g.key || "(none)", values: g.series.map((/** @type {any} */ p) => p.value) }));
    } else {
      x = toX(mrr.series);
      lines = [{ label: "MRR", values: mrr.series.map((/** @type {any} */ p) => p.value) }];
    }
    const bars = MOVEMENTS.map(([key, label]) => ({
      label,
      values: movements.series.map((/** @type {any} */ p) => (key === "contraction" || key === "churn" ? -Math.abs(p[key]) : Math.abs(p[key]))),
    }));
    replace(
      el,
      card(view.groupBy ? `MRR by ${view.groupBy.replace("_", " ")}` : "MRR", chart({ title: `MRR (${cur.toUpperCase()}) per ${view.interval}`, x, series: lines, format: fmt, axisFormat })),
      card(
        "MRR movements",
        legend(bars),
        chart({ title: `MRR movements (${cur.toUpperCase()}) per ${view.interval}`, x: toX(movements.series), series: bars, format: fmt, axisFormat, stacked: true }),
      ),
    );
    el.dataset.ready = "true";
  } catch (err) {
    replace(el, notice("error", noDataText(err)));
  }
}

/** The last value of a series. @param {any[]} series */
function last(series) {
  return series.length ? series[series.length - 1].value || 0 : 0;
}

/**
 * The controls; applying them writes the URL, which renders the view again.
 * @param {PageContext} ctx @param {View} view
 * @param {Record<string, string[]>} dimensions
 */
function controlsForm(ctx, view, dimensions) {
  const dims = Object.keys(dimensions || {});
  const [filterDim, filterValue] = Object.entries(view.filters)[0] || ["", ""];
  // The currencies the data is in; the API converts into any of them.
  const currencies = (dimensions.currency || []).filter(Boolean).map((c) => c.toLowerCase()).sort();
  const valueSelect = h("select", { id: "ov-filter-value", name: "filter_value", disabled: !filterDim });
  const fillValues = (/** @type {string} */ dim) => {
    replace(valueSelect, h("option", { value: "" }, "Any"), ...(dimensions[dim] || []).map((v) => h("option", { value: v, selected: v === filterValue }, v)));
    valueSelect.disabled = !dim;
  };
  fillValues(filterDim);
  const dimSelect = h(
    "select",
    { id: "ov-filter-dim", name: "filter_dim", onchange: (/** @type {Event} */ e) => fillValues(/** @type {HTMLSelectElement} */ (e.target).value) },
    h("option", { value: "" }, "No filter"),
    dims.map((d) => h("option", { value: d, selected: d === filterDim }, d.replace("_", " "))),
  );
  const form = h(
    "form",
    { class: "controls", "aria-label": "What the overview shows" },
    h("div", { class: "field" }, h("label", { for: "ov-from" }, "From"), h("input", { id: "ov-from", type: "date", name: "from", value: view.from, required: true })),
    h("div", { class: "field" }, h("label", { for: "ov-to" }, "To"), h("input", { id: "ov-to", type: "date", name: "to", value: view.to, required: true })),
    h("div", { class: "field" }, h("label", { for: "ov-interval" }, "Interval"), h("select", { id: "ov-interval", name: "interval" }, INTERVALS.map((i) => h("option", { value: i, selected: i === view.interval }, i)))),
    h(
      "div",
      { class: "field" },
      h("label", { for: "ov-currency" }, "Currency"),
      h("select", { id: "ov-currency", name: "currency" }, h("option", { value: "" }, "Reporting"), currencies.map((c) => h("option", { value: c, selected: c === view.currency.toLowerCase() }, c.toUpperCase()))),
    ),
    h("div", { class: "field" }, h("label", { for: "ov-filter-dim" }, "Filter"), dimSelect),
    h("div", { class: "field" }, h("label", { for: "ov-filter-value" }, "Value"), valueSelect),
    h(
      "div",
      { class: "field" },
      h("label", { for: "ov-group" }, "Group MRR by"),
      h("select", { id: "ov-group", name: "group_by" }, h("option", { value: "" }, "Nothing"), dims.map((d) => h("option", { value: d, selected: d === view.groupBy }, d.replace("_", " ")))),
    ),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "primary" }, "Apply")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const get = (/** @type {string} */ k) => String(data.get(k) || "");
    const dim = get("filter_dim");
    const value = get("filter_value");
    ctx.go(
      hashOf({
        from: get("from"),
        to: get("to"),
        interval: get("interval"),
        currency: get("currency"),
        groupBy: get("group_by"),
        filters: dim && value ? { [dim]: value } : {},
      }),
    );
  });
  return form;
}
