// Cohorts: customers grouped by the month (or quarter) of their first payment, and for
// each later period the share still paying (logo retention) or the share of the
// cohort's starting MRR it brings now (revenue retention), as a triangle. Cells are
// shaded by value through classes (the page's CSP allows no inline style). The controls
// and the retention shown live in the URL (`#/cohorts?interval=quarter&show=revenue`).

import { call } from "../api.js";
import { h, replace, money, percent, count, isoDay, day, loading, notice, errorText, pageHeader, csvDownload, filtersOf, defaultFrom } from "../ui.js";

/** @typedef {import("../main.js").PageContext} PageContext */

const INTERVALS = /** @type {const} */ ([
  ["month", "Month"],
  ["quarter", "Quarter"],
]);
const SHOWN = /** @type {const} */ ([
  ["logo", "Logo retention (customers)"],
  ["revenue", "Revenue retention (MRR)"],
]);

/** The view the URL asks for; the API's defaults for the range (the last 12 months). */
function viewOf(/** @type {URLSearchParams} */ params) {
  const filters = filtersOf(params);
  return {
    from: params.get("from") || defaultFrom(),
    to: params.get("to") || isoDay(new Date()),
    interval: params.get("interval") === "quarter" ? "quarter" : "month",
    show: params.get("show") === "revenue" ? "revenue" : "logo",
    // An RFM segment or a custom segment's id (as on the overview); kept by the form.
    segment: params.get("segment") || "",
    filters,
  };
}

/** @typedef {ReturnType<typeof viewOf>} View */

/** @param {View} view */
function hashOf(view) {
  const params = new URLSearchParams();
  params.set("from", view.from);
  params.set("to", view.to);
  params.set("interval", view.interval);
  for (const [dim, value] of Object.entries(view.filters)) params.set(`filter[${dim}]`, value);
  params.set("show", view.show);
  if (view.segment) params.set("segment", view.segment);
  return `#/cohorts?${params}`;
}

/** @param {PageContext} ctx */
export async function render(ctx) {
  const view = viewOf(ctx.params);
  const controls = h("div", { class: "controls-slot" });
  const body = h("div", { class: "cohorts-slot" }, loading());
  replace(
    ctx.main,
    pageHeader("Cohorts", "Customers grouped by the month or quarter of their first payment, and how many of them (or how much of their MRR) stay in each later period."),
    controls,
    body,
  );
  const dimensions = await call("GET", "/v1/dimensions").catch(() => ({}));
  replace(controls, controlsForm(ctx, view, dimensions));
  /** @type {Record<string, string>} */
  const query = { from: view.from, to: view.to, interval: view.interval };
  for (const [dim, value] of Object.entries(view.filters)) query[`filter[${dim}]`] = value;
  if (view.segment) query.segment = view.segment;
  let reply;
  try {
    reply = await call("GET", "/v1/metrics/cohorts", { query });
  } catch (err) {
    const code = err && /** @type {any} */ (err).code;
    replace(body, notice(code === "no_data_yet" ? "info" : "error", code === "no_data_yet" ? "No data yet: connect Stripe under Integrations; cohorts appear once the first sync has finished." : errorText(err)));
    return;
  }
  const draw = () => {
    replace(
      body,
      reply.suppressed
        ? notice("info", "This selection covers fewer customers than your company's minimum group size, so viewers do not see its figures.")
        : triangle(reply, view),
      h(
        "p",
        { class: "hint" },
        `Logo retention: the share of a cohort's customers paying at the end of each later ${view.interval} (one who left and came back counts again). Revenue retention: their MRR then ÷ their MRR at the end of the first ${view.interval}, expansion included, so it can exceed 100 %. Definition `,
        h("code", {}, reply.definition || ""),
        `; data as of ${day(reply.data_as_of)}; currency ${String(reply.currency || "").toUpperCase()}.`,
      ),
      csvDownload("the cohorts", "/v1/metrics/cohorts", query),
    );
    body.dataset.ready = "true";
  };
  draw();
  // The retention shown switches without a new call; the URL follows (no new entry).
  const toggle = controls.querySelector("fieldset.show");
  if (toggle) {
    toggle.addEventListener("change", (event) => {
      const input = /** @type {HTMLInputElement} */ (event.target);
      view.show = input.value === "revenue" ? "revenue" : "logo";
      history.replaceState(null, "", hashOf(view));
      draw();
    });
  }
}

/**
 * The triangle: a row per cohort (its size and starting MRR), a column per offset.
 * @param {any} reply @param {View} view
 */
function triangle(reply, view) {
  const cohorts = reply.cohorts || [];
  if (!cohorts.length) return notice("info", "No customer made a first payment in this range.");
  const offsets = Math.max(1, ...cohorts.map((/** @type {any} */ c) => (c.periods || []).length));
  const unit = view.interval === "quarter" ? "Quarter" : "Month";
  const key = view.show === "revenue" ? "revenue_retention" : "logo_retention";
  const what = view.show === "revenue" ? "Revenue retention" : "Logo retention";
  return h(
    "div",
    { class: "table-wrap triangle-wrap", tabindex: "0", role: "region", "aria-label": `${what} by cohort` },
    h(
      "table",
      { class: "triangle", "data-show": view.show },
      h("caption", {}, `${what} by ${unit.toLowerCase()} of first payment; column n is n ${unit.toLowerCase()}s later (0: the first ${unit.toLowerCase()}).`),
      h(
        "thead",
        {},
        h(
          "tr",
          {},
          h("th", { scope: "col" }, "Cohort"),
          h("th", { scope: "col", class: "num" }, "Customers"),
          h("th", { scope: "col", class: "num" }, "Start MRR"),
          Array.from({ length: offsets }, (_, i) => h("th", { scope: "col", class: "num" }, h("span", { class: "visually-hidden" }, `${unit} `), String(i))),
        ),
      ),
      h(
        "tbody",
        {},
        cohorts.map((/** @type {any} */ c) =>
          h(
            "tr",
            { "data-cohort": c.cohort },
            h("th", { scope: "row" }, c.cohort),
            c.suppressed
              ? h("td", { colspan: offsets + 2, class: "suppressed" }, "Fewer than k customers (your company's minimum group size): not shown to viewers.")
              : [
                  h("td", { class: "num" }, count(c.customers)),
                  h("td", { class: "num" }, money(c.start_mrr, reply.currency)),
                  ...Array.from({ length: offsets }, (_, i) => cell((c.periods || [])[i], key)),
                ],
          ),
        ),
      ),
    ),
  );
}

/** One retention cell, shaded in tenths (`heat-0` … `heat-10`; above 100 % as 10). */
function cell(/** @type {any} */ period, /** @type {string} */ key) {
  if (!period) return h("td", { class: "future" }, "");
  const value = period[key];
  if (value === null || value === undefined) return h("td", { class: "num", "data-value": "" }, "—");
  const tenth = Math.max(0, Math.min(10, Math.round(value * 10)));
  return h("td", { class: `num heat heat-${tenth}`, "data-value": String(value) }, percent(value));
}

/**
 * @param {PageContext} ctx @param {View} view
 * @param {Record<string, string[]>} dimensions
 */
function controlsForm(ctx, view, dimensions) {
  const dims = Object.keys(dimensions || {});
  const [filterDim, filterValue] = Object.entries(view.filters)[0] || ["", ""];
  const valueSelect = h("select", { id: "co-filter-value", name: "filter_value", disabled: !filterDim });
  const fillValues = (/** @type {string} */ dim) => {
    replace(valueSelect, h("option", { value: "" }, "Any"), ...(dimensions[dim] || []).map((v) => h("option", { value: v, selected: v === filterValue }, v)));
    valueSelect.disabled = !dim;
  };
  fillValues(filterDim);
  const form = h(
    "form",
    { class: "controls", "aria-label": "Which cohorts" },
    h("div", { class: "field" }, h("label", { for: "co-from" }, "From"), h("input", { id: "co-from", type: "date", name: "from", value: view.from, required: true })),
    h("div", { class: "field" }, h("label", { for: "co-to" }, "To"), h("input", { id: "co-to", type: "date", name: "to", value: view.to, required: true })),
    h("div", { class: "field" }, h("label", { for: "co-interval" }, "Cohorts by"), h("select", { id: "co-interval", name: "interval" }, INTERVALS.map(([value, text]) => h("option", { value, selected: value === view.interval }, text)))),
    h(
      "div",
      { class: "field" },
      h("label", { for: "co-filter-dim" }, "Filter"),
      h(
        "select",
        { id: "co-filter-dim", name: "filter_dim", onchange: (/** @type {Event} */ e) => fillValues(/** @type {HTMLSelectElement} */ (e.target).value) },
        h("option", { value: "" }, "No filter"),
        dims.map((d) => h("option", { value: d, selected: d === filterDim }, d.replace("_", " "))),
      ),
    ),
    h("div", { class: "field" }, h("label", { for: "co-filter-value" }, "Value"), valueSelect),
    h(
      "fieldset",
      { class: "field show" },
      h("legend", {}, "Show"),
      SHOWN.map(([value, text]) =>
        h("label", { class: "check" }, h("input", { type: "radio", name: "show", value, checked: value === view.show }), text),
      ),
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
        interval: get("interval") === "quarter" ? "quarter" : "month",
        show: get("show") === "revenue" ? "revenue" : "logo",
        segment: view.segment,
        filters: dim && value ? { [dim]: value } : {},
      }),
    );
  });
  return form;
}
