// Segments (RFM, every role: counts and MRR only) and Insights (per customer: analysts
// and admins): payment-failure risk by renewal date with the MRR at risk, and churn
// risk with the factors of its score.

import { call } from "../api.js";
import { h, replace, money, day, table, card, loading, notice, pageHeader, errorText, count, SEGMENT_NAMES } from "../ui.js";

/** @typedef {import("../main.js").PageContext} PageContext */

const SEGMENT_TEXT = /** @type {Record<string, string>} */ ({
  champions: "Bought recently, often, and spend the most.",
  loyal: "Buy regularly; a steady base.",
  at_risk: "Used to buy often and spend well, but not lately.",
  cant_lose: "Your biggest spenders have gone quiet: reach out.",
  hibernating: "Low recency, frequency and spend.",
  new: "Paid for the first time recently.",
});

/** How many of the likeliest churners' factors the Insights page reads (a profile each). */
const FACTORS_SHOWN = 20;

/** @param {PageContext} ctx */
export async function render(ctx) {
  const body = h("div", {}, loading());
  replace(ctx.main, pageHeader("Segments", "Customers grouped by recency, frequency and monetary value (RFM)."), body);
  let reply;
  try {
    reply = await call("GET", "/v1/segments");
  } catch (err) {
    replace(body, notice("error", errorText(err)));
    return;
  }
  const total = reply.segments.reduce((/** @type {number} */ sum, /** @type {any} */ s) => sum + s.mrr, 0) || 1;
  const perCustomer = ctx.me.user.role !== "viewer";
  replace(
    body,
    h(
      "div",
      { class: "segments" },
      reply.segments.map((/** @type {any} */ s) =>
        h(
          "section",
          { class: `card segment seg-${s.name}`, "aria-label": SEGMENT_NAMES[s.name] || s.name },
          h("h2", {}, SEGMENT_NAMES[s.name] || s.name),
          h("p", { class: "hint" }, SEGMENT_TEXT[s.name] || ""),
          h("p", { class: "big" }, count(s.customers), h("span", { class: "unit" }, " customers")),
          h("p", {}, `${money(s.mrr, reply.currency)} MRR`),
          h("div", { class: "meter", "aria-hidden": "true" }, h("span", { class: `fill w${Math.round((s.mrr / total) * 20) * 5}` })),
          h("p", { class: "hint" }, `${Math.round((s.mrr / total) * 100)} % of MRR`),
          perCustomer ? h("a", { href: `#/customers?segment=${s.name}` }, "See these customers →") : null,
        ),
      ),
    ),
  );
}

/** @param {PageContext} ctx */
export async function renderInsights(ctx) {
  if (ctx.me.user.role === "viewer") {
    replace(ctx.main, pageHeader("Insights", "Customers at risk."), notice("info", "Insights list individual customers, which analysts and admins see. As a viewer you see aggregates only."));
    return;
  }
  const failure = h("div", {}, loading());
  const churn = h("div", {}, loading());
  replace(
    ctx.main,
    pageHeader("Insights", "Revenue you can still save: cards that expire before the renewal, and customers likely to churn."),
    card("Payment-failure risk", h("p", { class: "hint" }, "The card on file expires before the next renewal; sorted by renewal date."), failure),
    card("Churn risk", h("p", { class: "hint" }, "Score 0–100 from listed factors: a pending cancellation (40), failed payments in the last 90 days (15 each, at most 30), a downgrade in the last 90 days (20), fewer seats than 90 days ago (10)."), churn),
  );
  try {
    const [risks, customers] = await Promise.all([
      call("GET", "/v1/insights/payment-failure-risk", { query: { limit: "50" } }),
      call("GET", "/v1/customers", { query: { sort: "mrr", limit: "200" } }),
    ]);
    const rows = [...risks.data].sort((a, b) => String(a.renews_at).localeCompare(String(b.renews_at)) || b.mrr_at_risk - a.mrr_at_risk);
    const atRisk = rows.reduce((/** @type {Record<string, number>} */ sum, r) => ((sum[r.currency] = (sum[r.currency] || 0) + r.mrr_at_risk), sum), {});
    replace(
      failure,
      h("p", {}, "MRR at risk: ", h("strong", {}, Object.entries(atRisk).map(([cur, amount]) => money(amount, cur)).join(" + ") || "none")),
      table(
        "Payment-failure risk",
        [
          { label: "Customer", cell: (/** @type {any} */ r) => h("a", { href: `#/customers/${encodeURIComponent(r.customer)}` }, r.customer) },
          { label: "Renews", cell: (r) => day(r.renews_at) },
          { label: "Card expires", cell: (r) => `${r.card_brand || "card"} ${String(r.card_expires.month).padStart(2, "0")}/${r.card_expires.year}` },
          { label: "MRR at risk", numeric: true, cell: (r) => money(r.mrr_at_risk, r.currency) },
        ],
        rows,
        { hideCaption: true, empty: "No card expires before its renewal." },
      ),
    );
    const likely = customers.data.filter((/** @type {any} */ c) => c.risk.churn > 0).sort((/** @type {any} */ a, /** @type {any} */ b) => b.risk.churn - a.risk.churn || b.reporting_mrr.amount - a.reporting_mrr.amount);
    // The factors are on each customer's profile (one read each): the highest scores'.
    /** @type {Map<string, any[]>} */
    const factors = new Map();
    await Promise.all(
      likely.slice(0, FACTORS_SHOWN).map(async (/** @type {any} */ c) => {
        try {
          const profile = await call("GET", `/v1/customers/${encodeURIComponent(c.id)}`);
          factors.set(c.id, profile.risk.churn_factors || []);
        } catch {
          // The row still shows its score; the profile link has the rest.
        }
      }),
    );
    const factorText = (/** @type {any} */ c) => {
      const listed = factors.get(c.id);
      if (!listed) return h("a", { href: `#/customers/${encodeURIComponent(c.id)}` }, "On the profile");
      const present = listed.filter((/** @type {any} */ f) => f.points > 0);
      return present.length ? h("ul", { class: "plain factors" }, present.map((/** @type {any} */ f) => h("li", {}, `${f.detail} (+${f.points})`))) : "—";
    };
    replace(
      churn,
      table(
        "Churn risk",
        [
          { label: "Customer", cell: (/** @type {any} */ c) => h("a", { href: `#/customers/${encodeURIComponent(c.id)}` }, c.email || c.id) },
          { label: "Score", numeric: true, cell: (c) => h("span", { class: c.risk.churn >= 40 ? "tag bad" : "tag" }, String(c.risk.churn)) },
          { label: "Factors", cell: factorText },
          { label: "MRR", numeric: true, cell: (c) => money(c.reporting_mrr.amount, c.reporting_mrr.currency) },
        ],
        likely,
        { hideCaption: true, empty: "No customer among the 200 largest shows a churn signal." },
      ),
    );
  } catch (err) {
    replace(failure, notice("error", errorText(err)));
    churn.replaceChildren();
  }
}
