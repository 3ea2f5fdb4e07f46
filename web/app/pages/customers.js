// Customers: a sortable, paged table (`#/customers?sort=ltv&segment=loyal&page=…`) and a
// profile (`#/customers/<id>`). Per-customer data is for analysts and admins: a viewer
// sees why the page is empty, and no request for personal data is made for them.

import { call } from "../api.js";
import { chart } from "../chart.js";
import { h, replace, money, moneyShort, day, table, card, loading, notice, pageHeader, errorText, SEGMENT_NAMES, count } from "../ui.js";

/** @typedef {import("../main.js").PageContext} PageContext */

const SORTS = /** @type {const} */ ([
  ["mrr", "MRR"],
  ["ltv", "Lifetime revenue"],
  ["loyalty", "Loyalty"],
]);

/** @param {PageContext} ctx */
export async function render(ctx) {
  if (ctx.me.user.role === "viewer") {
    replace(
      ctx.main,
      pageHeader("Customers", "Per-customer data is shown to analysts and admins."),
      notice("info", "As a viewer you see aggregates only: the Overview and Segments pages. Ask an admin for the analyst role to see individual customers."),
    );
    return;
  }
  if (ctx.path[1]) return profile(ctx, ctx.path[1]);
  return list(ctx);
}

/** @param {PageContext} ctx */
async function list(ctx) {
  const sort = SORTS.some(([s]) => s === ctx.params.get("sort")) ? /** @type {string} */ (ctx.params.get("sort")) : "mrr";
  const segment = ctx.params.get("segment") || "";
  // The cursors of the pages before this one, so "Previous" works without the API.
  const trail = (ctx.params.get("trail") || "").split(",").filter(Boolean);
  const cursor = ctx.params.get("cursor") || "";
  const body = h("div", {}, loading());
  replace(
    ctx.main,
    pageHeader("Customers", "Every customer with their revenue, loyalty score, RFM segment and risks, in your reporting currency."),
    filters(ctx, sort, segment),
    body,
  );
  let page;
  try {
    page = await call("GET", "/v1/customers", { query: { sort, segment, cursor, limit: "25" } });
  } catch (err) {
    replace(body, notice("error", errorText(err)));
    return;
  }
  /** @param {Record<string, string>} changes */
  const link = (changes) => {
    const params = new URLSearchParams({ sort, segment, cursor, trail: trail.join(",") });
    for (const [k, v] of Object.entries(changes)) params.set(k, v);
    for (const k of [...params.keys()]) if (!params.get(k)) params.delete(k);
    return `#/customers?${params}`;
  };
  const sortHeader = (/** @type {string} */ key, /** @type {string} */ label) =>
    h("a", { href: link({ sort: key, cursor: "", trail: "" }), class: key === sort ? "sorted" : null }, label, key === sort ? " ↓" : "");
  replace(
    body,
    table(
      "Customers",
      [
        { label: "Customer", cell: (/** @type {any} */ c) => h("a", { href: `#/customers/${encodeURIComponent(c.id)}` }, c.email || c.id) },
        { label: "MRR", numeric: true, header: sortHeader("mrr", "MRR"), sorted: sort === "mrr", cell: (c) => money(c.reporting_mrr.amount, c.reporting_mrr.currency) },
        { label: "Lifetime revenue", numeric: true, header: sortHeader("ltv", "Lifetime revenue"), sorted: sort === "ltv", cell: (c) => money(c.lifetime_revenue, c.currency || c.reporting_mrr.currency) },
        { label: "Loyalty", header: sortHeader("loyalty", "Loyalty"), sorted: sort === "loyalty", cell: (c) => c.loyalty_score || "—" },
        { label: "Segment", cell: (c) => (c.segment ? h("span", { class: `tag seg-${c.segment}` }, SEGMENT_NAMES[c.segment] || c.segment) : "—") },
        { label: "Risk", cell: (c) => riskTags(c.risk) },
      ],
      page.data,
      { hideCaption: true, empty: "No customers match." },
    ),
    h(
      "nav",
      { class: "pager", "aria-label": "Pages" },
      trail.length || cursor
        ? h("a", { class: "button secondary", href: link({ cursor: trail[trail.length - 1] === "first" ? "" : trail[trail.length - 1] || "", trail: trail.slice(0, -1).join(",") }) }, "← Previous")
        : h("span", {}),
      page.next_cursor ? h("a", { class: "button secondary", href: link({ cursor: page.next_cursor, trail: [...trail, cursor || "first"].join(",") }) }, "Next →") : null,
    ),
  );
}

/** @param {PageContext} ctx @param {string} sort @param {string} segment */
function filters(ctx, sort, segment) {
  const form = h(
    "form",
    { class: "controls" },
    h(
      "div",
      { class: "field" },
      h("label", { for: "cu-sort" }, "Sort by"),
      h("select", { id: "cu-sort", name: "sort" }, SORTS.map(([value, label]) => h("option", { value, selected: value === sort }, label))),
    ),
    h(
      "div",
      { class: "field" },
      h("label", { for: "cu-segment" }, "Segment"),
      h("select", { id: "cu-segment", name: "segment" }, h("option", { value: "" }, "All"), Object.entries(SEGMENT_NAMES).map(([value, label]) => h("option", { value, selected: value === segment }, label))),
    ),
    h("div", { class: "field actions" }, h("button", { type: "submit", class: "primary" }, "Show")),
  );
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const params = new URLSearchParams({ sort: String(data.get("sort") || "mrr") });
    if (data.get("segment")) params.set("segment", String(data.get("segment")));
    ctx.go(`#/customers?${params}`);
  });
  return form;
}

/** @param {{ payment_failure: boolean, churn: number }} risk */
function riskTags(risk) {
  const tags = [];
  if (risk.payment_failure) tags.push(h("span", { class: "tag warn" }, "Card expires before renewal"));
  if (risk.churn >= 40) tags.push(h("span", { class: "tag bad" }, `Churn risk ${risk.churn}`));
  else if (risk.churn > 0) tags.push(h("span", { class: "tag" }, `Churn risk ${risk.churn}`));
  return tags.length ? tags : "—";
}

/** @param {PageContext} ctx @param {string} id */
async function profile(ctx, id) {
  replace(ctx.main, h("p", {}, h("a", { href: "#/customers" }, "← Customers")), loading());
  let c;
  try {
    c = await call("GET", `/v1/customers/${encodeURIComponent(id)}`);
  } catch (err) {
    replace(ctx.main, h("p", {}, h("a", { href: "#/customers" }, "← Customers")), notice("error", errorText(err)));
    return;
  }
  const currency = c.currency || "usd";
  replace(
    ctx.main,
    h("p", {}, h("a", { href: "#/customers" }, "← Customers")),
    pageHeader(c.email || c.id, `Customer since ${day(c.created)} · ${c.dimensions.country || "country unknown"} · ${c.plans.join(", ") || "no plan"}`),
    h(
      "dl",
      { class: "figures" },
      stat("MRR", money(c.mrr, currency)),
      stat("Lifetime revenue", money(c.lifetime_revenue, currency)),
      stat("Payments", count(c.successful_payments)),
      stat("Loyalty (RFM)", c.loyalty_score || "—"),
      stat("Segment", c.segment ? SEGMENT_NAMES[c.segment] || c.segment : "—"),
      stat("Churn risk", `${c.risk.churn} / 100`),
    ),
    risks(c.risk),
    mrrHistory(c.mrr_history),
    card(
      "Subscriptions",
      table(
        "Subscriptions",
        [
          { label: "Plans", cell: (/** @type {any} */ s) => s.plans.join(", ") || s.id },
          { label: "Status", cell: (s) => h("span", { class: `tag status-${s.status}` }, s.status.replace("_", " ")) },
          { label: "MRR", numeric: true, cell: (s) => money(s.mrr, s.currency) },
          { label: "Started", cell: (s) => day(s.created) },
          { label: "Period ends", cell: (s) => `${day(s.current_period_end)}${s.cancel_at_period_end ? " (cancels)" : ""}` },
        ],
        c.subscriptions,
        { hideCaption: true },
      ),
    ),
    card(
      "Payments",
      table(
        "Payments",
        [
          { label: "Date", cell: (/** @type {any} */ p) => day(p.at) },
          { label: "Amount", numeric: true, cell: (p) => money(p.amount, p.currency) },
          { label: "Refunded", numeric: true, cell: (p) => (p.amount_refunded ? money(p.amount_refunded, p.currency) : "—") },
          { label: "Status", cell: (p) => h("span", { class: `tag status-${p.status}` }, p.status) },
          { label: "Card", cell: (p) => (p.card_brand ? `${p.card_brand} ${p.card_funding || ""} · exp. ${p.card_exp_month}/${p.card_exp_year}` : "—") },
        ],
        [...c.payments].sort((a, b) => String(b.at).localeCompare(String(a.at))).slice(0, 50),
        { hideCaption: true, empty: "No payments." },
      ),
    ),
  );
}

/** @param {string} label @param {string} value */
function stat(label, value) {
  return h("div", { class: "figure" }, h("dt", {}, label), h("dd", { class: "value" }, value));
}

const FACTOR_NAMES = /** @type {Record<string, string>} */ ({
  pending_cancellation: "Pending cancellation",
  failed_payments_90d: "Failed payments (90 days)",
  downgrade_90d: "Downgrade (90 days)",
  falling_seats: "Fewer seats (90 days)",
});

/**
 * The payment-failure risk and the churn score with its factors, as the API lists them.
 * @param {{ payment_failure: boolean, churn: number, churn_factors: { factor: string, observed: number, points: number, detail: string }[] }} risk
 */
function risks(risk) {
  const factors = risk.churn_factors || [];
  return card(
    "Risks",
    h(
      "p",
      {},
      risk.payment_failure ? "⚠ The card on file expires before the next renewal: the renewal payment will likely fail." : "✓ No payment-failure risk: the card on file outlives the next renewal.",
    ),
    h("p", {}, `Churn risk score ${risk.churn} of 100: the sum of the points below, at most 100.`),
    factors.length
      ? h(
          "div",
          { class: "churn-factors" },
          table(
            "Churn risk factors",
            [
              { label: "Factor", cell: (/** @type {any} */ f) => FACTOR_NAMES[f.factor] || f.factor },
              { label: "Observed", cell: (f) => f.detail },
              { label: "Points", numeric: true, cell: (f) => h("span", { class: f.points > 0 ? "tag bad" : "tag" }, String(f.points)) },
            ],
            factors,
            { hideCaption: true },
          ),
        )
      : h("p", { class: "hint" }, "No churn factor: the customer has no subscription, or the data predates the factors (the next daily rebuild adds them)."),
  );
}

/**
 * The customer's MRR after each change, one step chart per currency (never converted).
 * @param {{ date: string, currency: string, mrr: number }[]} history
 */
function mrrHistory(history) {
  if (!history || !history.length) return card("MRR history", h("p", { class: "hint" }, "This customer has never had MRR."));
  /** @type {Map<string, { date: string, mrr: number }[]>} */
  const byCurrency = new Map();
  for (const p of history) {
    const points = byCurrency.get(p.currency) || [];
    points.push(p);
    byCurrency.set(p.currency, points);
  }
  const today = new Date().toISOString().slice(0, 10);
  return h(
    "div",
    { class: "mrr-history" },
    card(
      "MRR history",
      h("p", { class: "hint" }, "A point for each day the MRR changed (new, upgrade, downgrade, churn, reactivation); it holds until the next one."),
      [...byCurrency.entries()].map(([cur, points]) => {
        const dates = points.map((p) => p.date);
        const values = points.map((p) => p.mrr);
        // The last value holds to today.
        const last = points[points.length - 1];
        if (last && last.date < today) {
          dates.push(today);
          values.push(last.mrr);
        }
        return chart({
          title: `MRR (${cur.toUpperCase()}) after each change`,
          x: dates.map((d) => Date.parse(`${d}T00:00:00Z`) / 1000),
          series: [{ label: "MRR", values }],
          format: (v) => money(v, cur),
          axisFormat: (v) => moneyShort(v, cur),
          stepped: true,
        });
      }),
    ),
  );
}
