// Segments (RFM, every role: counts and MRR only; custom segments, saved filter sets that
// admins and analysts create and everyone opens on the overview) and Insights (per
// customer: analysts and admins): payment-failure risk by renewal date with the MRR at
// risk, and churn risk with the factors of its score.

import { call } from "../api.js";
import { h, replace, money, day, table, card, loading, notice, pageHeader, errorText, count, messageArea, confirmDialog, when, SEGMENT_NAMES } from "../ui.js";

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
  const custom = h("div", { class: "custom-slot" });
  replace(ctx.main, pageHeader("Segments", "Customers grouped by recency, frequency and monetary value (RFM), and the segments your team saved."), body, custom);
  await renderCustom(ctx, custom);
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

/**
 * Custom segments: the list with each one's filters and a link to the overview with it
 * applied; admins and analysts create (a name and one or more dimension = value pairs,
 * ANDed) and delete them.
 * @param {PageContext} ctx @param {HTMLElement} el
 */
async function renderCustom(ctx, el) {
  const canWrite = ctx.me.user.role !== "viewer";
  const messages = messageArea();
  const list = h("div", {}, loading());
  replace(
    el,
    h(
      "section",
      { class: "card custom-segments", "aria-label": "Custom segments" },
      h("h2", {}, "Custom segments"),
      h("p", { class: "hint" }, "Saved filters: a segment's customers match every one of its filters. Open one to see the overview for those customers only."),
      messages.el,
      list,
      canWrite ? createForm(messages, () => refresh()) : null,
    ),
  );
  async function refresh() {
    let reply;
    try {
      reply = await call("GET", "/v1/segments/custom");
    } catch (err) {
      replace(list, notice("error", errorText(err)));
      return;
    }
    replace(
      list,
      table(
        "Custom segments",
        [
          { label: "Name", cell: (/** @type {any} */ s) => h("a", { href: `#/overview?segment=${encodeURIComponent(s.id)}`, "data-segment-id": s.id }, s.name) },
          {
            label: "Filters",
            cell: (s) => [
              ...Object.entries(s.filters || {}).map(([dim, value]) => h("span", { class: "tag" }, `${dim.replace("_", " ")}: ${value}`)),
              // A viewer reads a segment on city without that filter, and may not use it.
              s.restricted ? h("span", { class: "tag warn" }, "and a city filter (admins and analysts only)") : null,
            ],
          },
          { label: "Changed", cell: (s) => when(s.updated_at || s.created_at) },
          ...(canWrite
            ? [
                {
                  label: "Actions",
                  cell: (/** @type {any} */ s) =>
                    h(
                      "button",
                      {
                        type: "button",
                        class: "link danger",
                        onclick: async () => {
                          const sure = await confirmDialog(`Delete “${s.name}”?`, "Links to the overview with this segment stop working. The customers and their data stay as they are.", "Delete segment");
                          if (!sure) return;
                          try {
                            await call("DELETE", `/v1/segments/custom/${encodeURIComponent(s.id)}`);
                            messages.show("success", `Segment “${s.name}” deleted.`);
                          } catch (err) {
                            messages.error(err);
                          }
                          await refresh();
                        },
                      },
                      "Delete",
                      h("span", { class: "visually-hidden" }, ` ${s.name}`),
                    ),
                },
              ]
            : []),
        ],
        reply.segments || [],
        { hideCaption: true, empty: canWrite ? "No custom segment yet: create one below." : "No custom segment yet." },
      ),
    );
  }
  await refresh();
}

/**
 * The form that saves a segment: its name and dimension = value rows (from
 * `/v1/dimensions`), one more with "Add a filter".
 * @param {ReturnType<typeof messageArea>} messages @param {() => Promise<void>} saved
 */
function createForm(messages, saved) {
  /** @type {Record<string, string[]>} */
  let dimensions = {};
  const rows = h("div", { class: "stack" });
  let next = 0;
  const addRow = () => {
    const n = next++;
    const values = h("select", { id: `cs-value-${n}`, name: `value_${n}`, disabled: true }, h("option", { value: "" }, "Choose a dimension first"));
    const dims = h(
      "select",
      {
        id: `cs-dim-${n}`,
        name: `dim_${n}`,
        onchange: () => {
          const dim = dims.value;
          replace(values, h("option", { value: "" }, dim ? "Choose a value" : "Choose a dimension first"), (dimensions[dim] || []).filter(Boolean).map((v) => h("option", { value: v }, v)));
          values.disabled = !dim;
        },
      },
      h("option", { value: "" }, "Choose"),
      Object.keys(dimensions).map((d) => h("option", { value: d }, d.replace("_", " "))),
    );
    rows.appendChild(
      h(
        "div",
        { class: "filters-row", "data-filter-row": String(n) },
        h("div", { class: "field" }, h("label", { for: `cs-dim-${n}` }, `Dimension ${n + 1}`), dims),
        h("div", { class: "field" }, h("label", { for: `cs-value-${n}` }, `Value ${n + 1}`), values),
      ),
    );
  };
  const form = h(
    "form",
    { class: "stack", "aria-label": "Create a custom segment" },
    h("h3", {}, "Create a segment"),
    h("div", { class: "field narrow" }, h("label", { for: "cs-name" }, "Segment name"), h("input", { id: "cs-name", name: "name", required: true, maxlength: 64, autocomplete: "off" })),
    rows,
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", class: "secondary", onclick: addRow }, "Add a filter"),
      h("button", { type: "submit", class: "primary" }, "Create segment"),
    ),
  );
  call("GET", "/v1/dimensions")
    .then((d) => {
      dimensions = d || {};
    })
    .catch(() => {})
    .finally(addRow);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const name = String(data.get("name") || "").trim();
    /** @type {Record<string, string>} */
    const filters = {};
    for (let n = 0; n < next; n++) {
      const dim = String(data.get(`dim_${n}`) || "");
      const value = String(data.get(`value_${n}`) || "");
      if (dim && value) filters[dim] = value;
    }
    if (!Object.keys(filters).length) {
      messages.show("error", "Choose at least one dimension and its value.");
      return;
    }
    const button = form.querySelector("button[type=submit]");
    if (button instanceof HTMLButtonElement) button.disabled = true;
    messages.clear();
    try {
      const created = await call("POST", "/v1/segments/custom", { body: { name, filters } });
      messages.show("success", `Segment “${created.name}” created.`);
      form.reset();
      rows.replaceChildren();
      next = 0;
      addRow();
      await saved();
    } catch (err) {
      messages.error(err);
    } finally {
      if (button instanceof HTMLButtonElement) button.disabled = false;
    }
  });
  return form;
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
