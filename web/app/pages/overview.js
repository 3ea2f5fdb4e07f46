// Overview: the headline figures beside their values a month or a year earlier (the
// summary's `compare=`), MRR as a line (one line per group with `group_by`, and the same
// months a year earlier as a dashed line when comparing with a year earlier), the MRR
// movements as stacked bars, and a forecast of MRR with its band. Every control writes
// the URL (`#/overview?from=…&filter[country]=de&compare=year&segment=…`), so a view can
// be shared and the back button returns to the previous one. Each chart has a CSV
// download of the same query.

import { call } from "../api.js";
import { chart, legend } from "../chart.js";
import { h, replace, money, moneyShort, percent, count, isoDay, day, card, loading, notice, errorText, pageHeader, csvDownload, SEGMENT_NAMES, filtersOf, defaultFrom, providerName } from "../ui.js";

const INTERVALS = ["day", "week", "month", "quarter", "year"];
/** The summary's comparisons: `previous` is a month before `as_of`, `year` a year. */
const COMPARES = /** @type {const} */ ([
  ["previous", "The month before"],
  ["year", "A year earlier"],
]);
const MOVEMENTS = /** @type {const} */ ([
  ["new", "New"],
  ["expansion", "Expansion"],
  ["reactivation", "Reactivation"],
  ["contraction", "Contraction"],
  ["churn", "Churn"],
]);

/** @typedef {import("../main.js").PageContext} PageContext */
/** @typedef {{ value: number | null, change: number | null, relative_change: number | null }} Compared */

/** The view the URL asks for, with the API's defaults filled in for the controls. */
function viewOf(/** @type {URLSearchParams} */ params) {
  const filters = filtersOf(params);
  return {
    from: params.get("from") || defaultFrom(),
    to: params.get("to") || isoDay(new Date()),
    interval: INTERVALS.includes(params.get("interval") || "") ? /** @type {string} */ (params.get("interval")) : "month",
    currency: params.get("currency") || "",
    groupBy: params.get("group_by") || "",
    compare: params.get("compare") === "year" ? "year" : "previous",
    segment: params.get("segment") || "",
    filters,
  };
}

/** @typedef {ReturnType<typeof viewOf>} View */

/** The query of a metrics call for `view`. @param {View} view */
function queryOf(view, extra = {}) {
  /** @type {Record<string, string>} */
  const query = { currency: view.currency, segment: view.segment, ...extra };
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
  params.set("compare", view.compare);
  if (view.segment) params.set("segment", view.segment);
  return `#/overview?${params}`;
}

/** @param {PageContext} ctx */
export async function render(ctx) {
  const view = viewOf(ctx.params);
  const figures = h("div", { class: "figures-slot", "aria-busy": "true" }, loading());
  const charts = h("div", { class: "charts" });
  const forecast = h("div", { class: "forecast-slot" });
  const controls = h("div", { class: "controls-slot" });
  const applied = h("div", { class: "segment-slot" });
  replace(
    ctx.main,
    pageHeader("Overview", `${ctx.me.tenant.company}: revenue and customers from ${day(view.from)} to ${day(view.to)}.`),
    applied,
    controls,
    figures,
    charts,
    forecast,
  );
  const [dimensions, custom, sources] = await Promise.all([
    call("GET", "/v1/dimensions").catch(() => ({})),
    call("GET", "/v1/segments/custom").then((r) => r.segments, () => []),
    call("GET", "/v1/integrations").then((r) => r.data, () => []),
  ]);
  /** @type {[string, string][]} */
  const rfm = Object.entries(SEGMENT_NAMES);
  /** @type {[string, string][]} */
  const saved = custom.map((/** @type {any} */ s) => [s.id, s.name]);
  // The `integration` dimension's values are ids: shown by the source's name.
  /** @type {Record<string, string>} */
  const sourceNames = {};
  for (const i of sources) sourceNames[i.id] = `${providerName(i)} · ${String(i.id).slice(-6)}`;
  replace(controls, controlsForm(ctx, view, dimensions, rfm, saved, sourceNames));
  if (view.segment) {
    const name = SEGMENT_NAMES[view.segment] || (saved.find(([id]) => id === view.segment) || [])[1] || view.segment;
    replace(applied, notice("info", "Showing the segment ", h("strong", { "data-segment": view.segment }, name), ". ", h("a", { href: hashOf({ ...view, segment: "" }) }, "Show all customers")));
  }
  const summaryQuery = queryOf(view, { as_of: view.to, compare: view.compare });
  let current;
  try {
    current = await call("GET", "/v1/metrics/summary", { query: summaryQuery });
  } catch (err) {
    replace(figures, notice(err && /** @type {any} */ (err).code === "no_data_yet" ? "info" : "error", noDataText(err)));
    figures.removeAttribute("aria-busy");
    return;
  }
  /** @type {Record<string, Compared> & { as_of?: string, rates_from?: string }} */
  const before = current.comparison || {};
  // GRR is not in the summary: its month's point, compared the same way.
  const grr = await call("GET", "/v1/metrics/grr", {
    query: queryOf(view, { interval: "month", from: current.rates_from.slice(0, 10), to: current.rates_to.slice(0, 10), compare: view.compare }),
  }).catch(() => null);
  const grrPoint = grr && grr.series.find((/** @type {any} */ p) => p.period_start.slice(0, 10) === current.rates_from.slice(0, 10));
  const cur = current.currency;
  const earlier = view.compare === "year" ? "A year earlier" : "A month earlier";
  const asMoney = (/** @type {number | null} */ v) => money(v, cur);
  const ratio = (/** @type {number | null} */ v) => (v === null || v === undefined ? "—" : v.toFixed(2));
  /** @type {[string, string, (v: number | null) => string, Change, boolean?][]} */
  const shown = [
    ["mrr", "MRR", asMoney, "relative"],
    ["arr", "ARR", asMoney, "relative"],
    ["customers", "Customers", count, "relative"],
    ["customer_churn_rate", "Customer churn", percent, "points", true],
    ["nrr", "NRR", percent, "points"],
    ["grr", "GRR", percent, "points"],
    ["quick_ratio", "Quick ratio", ratio, "absolute"],
    ["net_mrr_churn_rate", "Net MRR churn", percent, "points", true],
    ["arpu", "ARPU", asMoney, "relative"],
    ["ltv", "LTV", asMoney, "relative"],
  ];
  replace(
    figures,
    h(
      "dl",
      { class: "figures" },
      shown.map(([key, label, format, change, lowerIsBetter]) =>
        key === "grr"
          ? figure(key, label, grrPoint ? grrPoint.value : null, grrPoint ? grrPoint.compared : null, format, change, earlier, false)
          : figure(key, label, current[key], before[key], format, change, earlier, lowerIsBetter),
      ),
    ),
  );
  figures.removeAttribute("aria-busy");
  figures.appendChild(
    h(
      "p",
      { class: "figures-note" },
      `As of ${day(view.to)}, compared with ${day(before.as_of || null)}. Churn, NRR, GRR, the quick ratio and net MRR churn cover the last complete month (${day(current.rates_from)} – ${day(current.rates_to)}${before.rates_from ? `; compared with ${day(before.rates_from)} – ${day(/** @type {any} */ (before).rates_to)}` : ""}). Net MRR churn below 0 means expansion and reactivation outweighed the losses. Data as of ${day(current.data_as_of)}. Currency ${cur.toUpperCase()}.`,
    ),
  );
  figures.appendChild(csvDownload("the figures", "/v1/metrics/summary", summaryQuery));
  if (current.unconverted && current.unconverted.length) {
    figures.appendChild(notice("warning", `Some revenue has no exchange rate into ${cur.toUpperCase()} and is not included: ${current.unconverted.map((/** @type {any} */ u) => money(u.amount, u.currency)).join(", ")}.`));
  }
  await Promise.all([renderCharts(charts, view), renderForecast(forecast, view)]);
}

/** @param {unknown} err */
function noDataText(err) {
  const code = err && /** @type {any} */ (err).code;
  if (code === "no_data_yet") return "No data yet: connect Stripe under Integrations; the figures appear once the first sync has finished.";
  return errorText(err);
}

/**
 * How a figure's change reads: `relative` (money and counts: per cent of the earlier
 * value), `points` (a rate: the difference in percentage points, since a relative change
 * of a rate that may be 0 or negative says little), `absolute` (the quick ratio).
 * @typedef {"relative" | "points" | "absolute"} Change
 */

/**
 * One headline figure with its earlier value and the change (both from the API).
 * @param {string} key @param {string} label
 * @param {number | null} value @param {Compared | null | undefined} before
 * @param {(v: number | null) => string} format @param {Change} kind
 * @param {string} earlier @param {boolean} [lowerIsBetter]
 */
function figure(key, label, value, before, format, kind, earlier, lowerIsBetter = false) {
  /** @type {HTMLElement | null} */
  let change = null;
  const delta = before ? (kind === "relative" ? before.relative_change : before.change) : null;
  if (delta !== null && delta !== undefined) {
    const up = delta > 0;
    const good = delta === 0 ? "flat" : up !== lowerIsBetter ? "good" : "bad";
    const size = kind === "relative" ? percent(Math.abs(delta)) : kind === "points" ? `${(Math.abs(delta) * 100).toFixed(1)} pp` : Math.abs(delta).toFixed(2);
    change = h("span", { class: `change ${good}` }, `${up ? "▲" : delta < 0 ? "▼" : "■"} ${size}`);
  }
  const earlierValue = before ? before.value : null;
  return h(
    "div",
    { class: "figure", "data-figure": key, "data-value": value === null || value === undefined ? "" : String(value), "data-before": earlierValue === null || earlierValue === undefined ? "" : String(earlierValue) },
    h("dt", {}, label),
    h("dd", { class: "value" }, format(value)),
    h("dd", { class: "previous" }, `${earlier}: `, format(earlierValue), " ", change),
  );
}

/** @param {HTMLElement} el @param {View} view */
async function renderCharts(el, view) {
  const range = { from: view.from, to: view.to, interval: view.interval };
  // The same months a year earlier, as a second line (one line per group is enough).
  const yearAgo = view.compare === "year" && !view.groupBy;
  const mrrQuery = queryOf(view, { ...range, group_by: view.groupBy, compare: yearAgo ? "year" : "" });
  const movementsQuery = queryOf(view, range);
  try {
    const [mrr, movements] = await Promise.all([
      call("GET", "/v1/metrics/mrr", { query: mrrQuery }),
      call("GET", "/v1/metrics/mrr_movements", { query: movementsQuery }),
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
      if (yearAgo) {
        lines.push({ label: "A year earlier", dash: true, values: mrr.series.map((/** @type {any} */ p) => (p.compared ? p.compared.value : null)) });
      }
    }
    const bars = MOVEMENTS.map(([key, label]) => ({
      label,
      values: movements.series.map((/** @type {any} */ p) => (key === "contraction" || key === "churn" ? -Math.abs(p[key]) : Math.abs(p[key]))),
    }));
    const mrrTitle = view.groupBy ? `MRR by ${view.groupBy.replace("_", " ")}` : "MRR";
    replace(
      el,
      card(
        mrrTitle,
        yearAgo && mrr.comparison ? h("p", { class: "hint" }, `The dashed line is the same ${view.interval}s a year earlier (${day(mrr.comparison.from)} – ${day(mrr.comparison.to)}).`) : null,
        chart({ title: `MRR (${cur.toUpperCase()}) per ${view.interval}`, x, series: lines, format: fmt, axisFormat }),
        csvDownload(mrrTitle, "/v1/metrics/mrr", mrrQuery),
      ),
      card(
        "MRR movements",
        legend(bars),
        chart({ title: `MRR movements (${cur.toUpperCase()}) per ${view.interval}`, x: toX(movements.series), series: bars, format: fmt, axisFormat, stacked: true }),
        csvDownload("MRR movements", "/v1/metrics/mrr_movements", movementsQuery),
      ),
    );
    el.dataset.ready = "true";
  } catch (err) {
    replace(el, notice("error", noDataText(err)));
  }
}

/**
 * The forecast: the trailing months' MRR, then the model's months with the band between
 * its low and high (the model and its rates are the API's, named on the card).
 * @param {HTMLElement} el @param {View} view
 */
async function renderForecast(el, view) {
  const query = queryOf(view, { as_of: view.to });
  let reply;
  try {
    reply = await call("GET", "/v1/metrics/forecast", { query });
  } catch (err) {
    replace(el, card("Forecast", notice("error", noDataText(err))));
    return;
  }
  if (reply.suppressed || !reply.series || !reply.series.length) {
    replace(el, card("Forecast", notice("info", "No forecast for this selection: it covers too few customers.")));
    return;
  }
  const cur = reply.currency;
  const history = reply.history || [];
  const joined = [...history, ...reply.series];
  const n = history.length;
  const lastKnown = n ? history[n - 1].mrr : null;
  // The forecast's lines start at the last known month, so they join the history.
  const ahead = (/** @type {string} */ key) => joined.map((p, i) => (i < n - 1 ? null : i === n - 1 ? lastKnown : p[key]));
  /** @type {import("../chart.js").Series[]} */
  const lines = [
    { label: "MRR", values: joined.map((p, i) => (i < n ? p.mrr : null)) },
    { label: "Forecast", values: ahead("mrr"), color: "#e8590c" },
    { label: "High", values: ahead("mrr_high"), color: "#868e96", dash: true },
    { label: "Low", values: ahead("mrr_low"), color: "#868e96", dash: true },
  ];
  const end = reply.series[reply.series.length - 1];
  replace(
    el,
    card(
      "Forecast",
      h("p", { class: "forecast-model" }, "Model ", h("code", { "data-model": reply.model }, reply.model), ": ", firstSentence(reply.description)),
      h("details", { class: "chart-data" }, h("summary", {}, "How the model works"), h("p", { class: "forecast-description" }, reply.description)),
      h(
        "p",
        { class: "hint" },
        `From the last ${reply.trailing_months} complete months' rates; the band is about 90 % (z = ${reply.z}) and widens with the horizon. `,
        `By ${day(end.period_start)}: MRR ${money(end.mrr, cur)} (${money(end.mrr_low, cur)} – ${money(end.mrr_high, cur)}), ${count(end.customers)} customers (${count(end.customers_low)} – ${count(end.customers_high)}).`,
      ),
      chart({
        title: `MRR (${cur.toUpperCase()}) and its forecast per month`,
        x: joined.map((p) => Date.parse(p.period_start) / 1000),
        series: lines,
        format: (v) => money(v, cur),
        axisFormat: (v) => moneyShort(v, cur),
        band: [2, 3],
      }),
      csvDownload("the forecast", "/v1/metrics/forecast", query),
    ),
  );
  el.dataset.ready = "true";
}

/** The first sentence of a text (the card's one line; the whole text is below it). */
function firstSentence(/** @type {string} */ text) {
  const end = String(text || "").search(/[.:](\s|$)/);
  return end < 0 ? text : text.slice(0, end + 1);
}

/** The last value of a series. @param {any[]} series */
function last(series) {
  return series.length ? series[series.length - 1].value || 0 : 0;
}

/**
 * The controls; applying them writes the URL, which renders the view again.
 * @param {PageContext} ctx @param {View} view
 * @param {Record<string, string[]>} dimensions
 * @param {[string, string][]} rfm @param {[string, string][]} saved the segments, id and name
 * @param {Record<string, string>} sourceNames the integrations' names by id
 */
function controlsForm(ctx, view, dimensions, rfm, saved, sourceNames) {
  const dims = Object.keys(dimensions || {});
  const [filterDim, filterValue] = Object.entries(view.filters)[0] || ["", ""];
  // The currencies the data is in; the API converts into any of them.
  const currencies = (dimensions.currency || []).filter(Boolean).map((c) => c.toLowerCase()).sort();
  const valueSelect = h("select", { id: "ov-filter-value", name: "filter_value", disabled: !filterDim });
  const fillValues = (/** @type {string} */ dim) => {
    const label = (/** @type {string} */ v) => (dim === "integration" && sourceNames[v]) || v;
    replace(valueSelect, h("option", { value: "" }, "Any"), ...(dimensions[dim] || []).map((v) => h("option", { value: v, selected: v === filterValue }, label(v))));
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
    h(
      "div",
      { class: "field" },
      h("label", { for: "ov-segment" }, "Segment"),
      h(
        "select",
        { id: "ov-segment", name: "segment" },
        h("option", { value: "" }, "All customers"),
        h("optgroup", { label: "RFM" }, rfm.map(([id, name]) => h("option", { value: id, selected: id === view.segment }, name))),
        saved.length ? h("optgroup", { label: "Custom" }, saved.map(([id, name]) => h("option", { value: id, selected: id === view.segment }, name))) : null,
        // A segment the list does not have (deleted, or another's link) stays selectable.
        view.segment && !SEGMENT_NAMES[view.segment] && !saved.some(([id]) => id === view.segment) ? h("option", { value: view.segment, selected: true }, view.segment) : null,
      ),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "ov-compare" }, "Compare with"),
      h("select", { id: "ov-compare", name: "compare" }, COMPARES.map(([value, text]) => h("option", { value, selected: value === view.compare }, text))),
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
        compare: get("compare") === "year" ? "year" : "previous",
        segment: get("segment"),
        filters: dim && value ? { [dim]: value } : {},
      }),
    );
  });
  return form;
}
