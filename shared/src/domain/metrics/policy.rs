//! The choices behind every number, as named values the API reports with its replies.
//!
//! [`MrrPolicy`] holds what a tenant could reasonably configure (which statuses count,
//! whether trials count...); its `Default` is Stripe Billing's definition.
//! [`DEFINITIONS`] names the fixed rules of the engine: how movements, rates and
//! segments are computed. Both serialize so a reply can say exactly what it measured.

use serde::{Deserialize, Serialize};

use crate::domain::billing::SubscriptionStatus;

/// When an `unpaid` subscription stops counting.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum UnpaidChurnFrom {
    /// The period start of the first open or uncollectible invoice after the last paid
    /// one (when the customer stopped paying); the current period start if there is none.
    FirstUnpaidInvoice,
    /// The subscription's current period start.
    CurrentPeriodStart,
}

/// Whether a subscription whose collection is paused (`pause_collection`, status still
/// `active`) is recurring revenue meanwhile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[derive(utoipa::ToSchema)]
pub enum PausedCollection {
    /// Not recurring revenue from the end of its last paid period until collection
    /// resumes (`resumes_at`): the merchant is giving the service away, or not
    /// providing it (Stripe's "Pause payment collection" guide).
    #[default]
    NotRecurring,
    /// Counts as if collected: the pause is a grace period the customer will pay for.
    Recurring,
}

/// How MRR is measured. Serialized into replies under its field names.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MrrPolicy {
    /// A name for the whole set of choices.
    pub name: String,
    /// Statuses whose current state counts. A `canceled` subscription counts, as it was,
    /// until it ended; statuses not listed stop counting (see `unpaid_churn_from`).
    pub statuses: Vec<SubscriptionStatus>,
    /// Trial periods (`trial_start..trial_end`) contribute 0.
    pub exclude_trials: bool,
    /// Metered (usage-based) prices contribute 0.
    pub exclude_metered: bool,
    /// Only `forever` coupons reduce MRR; when false, `repeating` ones do too while they
    /// last. `once` coupons never do (they discount one invoice, not a recurring amount).
    pub forever_coupons_only: bool,
    /// A subscription set to cancel at period end counts until the period ends (else it
    /// churns when the cancellation was requested, `canceled_at`: Stripe Billing's
    /// default, "no longer count[s] towards your MRR after the time of the API call").
    pub count_until_period_end_when_cancel_at_period_end: bool,
    pub unpaid_churn_from: UnpaidChurnFrom,
    /// A subscription with `pause_collection` set; absent from policies stored before
    /// it existed, which read as the default.
    #[serde(default)]
    pub paused_collection: PausedCollection,
}

impl Default for MrrPolicy {
    /// Stripe Billing's definition of MRR.
    fn default() -> Self {
        MrrPolicy {
            name: "stripe_billing".to_owned(),
            statuses: vec![SubscriptionStatus::Active, SubscriptionStatus::PastDue],
            exclude_trials: true,
            exclude_metered: true,
            forever_coupons_only: true,
            count_until_period_end_when_cancel_at_period_end: false,
            unpaid_churn_from: UnpaidChurnFrom::FirstUnpaidInvoice,
            paused_collection: PausedCollection::NotRecurring,
        }
    }
}

impl MrrPolicy {
    pub fn counts(&self, status: SubscriptionStatus) -> bool {
        self.statuses.contains(&status)
    }
}

/// A fixed rule of the engine: a stable `name` (reported in replies) and what it means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub struct Definition {
    pub concept: &'static str,
    pub name: &'static str,
    pub rule: &'static str,
}

const fn def(concept: &'static str, name: &'static str, rule: &'static str) -> Definition {
    Definition {
        concept,
        name,
        rule,
    }
}

/// Every fixed rule, by concept. [`definition`] looks one up.
pub const DEFINITIONS: &[Definition] = &[
    def(
        "mrr_history",
        "invoice_lines_dated_at_the_change",
        "Recurring lines of paid, open and uncollectible invoices give price x quantity for their period. A proration line dates a change: a charge line puts its new terms in force from its period start, a credit line ends the old terms there. Each current item applies from the end of its last invoiced period (from the start date when never invoiced), so a change without proration evidence is dated at the first period billed at the new terms, and a renewal never moves an earlier change.",
    ),
    def(
        "lifecycle",
        "stripe_statuses_paused_at_transition",
        "active and past_due count (Stripe Billing). canceled: counts until canceled_at, the time of the cancellation request (Stripe Billing), or ended_at when the policy counts until the period ends. A scheduled cancellation (cancel_at_period_end, cancel_at) stops at its request (canceled_at), else at cancel_at or the period end. unpaid (and past_due when not counted): from the first unpaid invoice after the last paid one. paused (a trial that ended without a payment method, the pause endpoint, a pause after failed payments): stops when it was paused (status_details.paused.transitioned_at), never after the end of its last paid period, keeping every paid period before; without a pause time, at the end of the last paid period. incomplete, incomplete_expired and trialing never count. pause_collection: per the policy's paused_collection, not recurring from the end of the last paid period until resumes_at.",
    ),
    def(
        "discounts",
        "item_then_subscription_else_customer",
        "Item discounts reduce their item first; then the subscription's discounts apply in order, each to the amount left by the previous; the customer's discount applies only while the subscription has no discount of its own. A coupon with applies_to.products reduces only those products' items. An amount off applies in its coupon's currency (or its currency_options amount for the subscription's currency), per billing period normalized to a month, spread over the eligible items in proportion. Never below 0. Forever coupons count; repeating ones unless forever_coupons_only; once never.",
    ),
    def(
        "movement_unit",
        "customer_across_currencies",
        "Movements are computed per customer across all its currencies (one customer is one customer): dropping one currency's subscription while another remains is contraction, not churn.",
    ),
    def(
        "fx_conversion",
        "converted_once_at_movement_day",
        "Into the reporting currency, each change of a (customer, currency, plan) slice is converted once, on its UTC day, at the ECB euro reference rate of that day (the last published before it on days without one; the tenant's stored rates for currencies the ECB does not publish): an increase adds the native increase at that day's rate, a decrease removes the same share of the slice's converted value. Exchange rates never create a movement and start + movements = end holds exactly. A currency with no rate is left out and listed under `unconverted` with its native MRR.",
    ),
    def(
        "movement_day",
        "end_of_utc_day",
        "A unit's MRR at the end of each UTC day is compared with the previous day's end, so changes within one day net out.",
    ),
    def(
        "movements",
        "new_expansion_contraction_churn_reactivation",
        "0 to x: new if the unit never had MRR before, else reactivation; x to y: expansion if up, contraction if down; x to 0: churn. Contraction and churn are positive magnitudes: net = new + expansion + reactivation - contraction - churn + plan_switch.",
    ),
    def(
        "plan_switch",
        "allocated_with_transfer",
        "By plan (and by currency), each customer's movement of a day is split over the plans (currencies) that moved in its direction, in proportion; what remains of each one's change is plan_switch (sums to 0 over them). A plan switch at equal MRR is -x plan_switch in the old plan and +x in the new. Customer counts by plan or currency count memberships.",
    ),
    def(
        "plan_flows",
        "plan_switch_split_by_pair",
        "On a day a customer's MRR left some plans (each giving up d) and entered others (each taking on i), the MRR moved is s = min(sum d, sum i), split over each (from, to) pair as s x d_from / sum d x i_to / sum i; beyond s, what plans took on is new, expansion or reactivation and what they gave up is contraction or churn. Flows into a plan minus flows out of it are its plan_switch by plan. Value: the MRR moved in the period.",
    ),
    def(
        "customers",
        "paying_customers_at_period_end",
        "Customers with MRR > 0 (in any currency) at the end of the period.",
    ),
    def(
        "customer_churn_rate",
        "lost_of_start_over_start",
        "Customers paying at the period's start who are not paying at its end / customers paying at its start. Customers who join and leave within the period do not count, so the rate never exceeds 100 % (ChartMogul's and Stripe Billing's customer churn rate).",
    ),
    def(
        "revenue_churn_rate",
        "start_customers_churn_and_contraction_over_start_mrr",
        "(churn + contraction of the customers paying at the period's start) / MRR at period start (gross MRR churn rate).",
    ),
    def(
        "nrr",
        "start_cohort_end_over_start",
        "(start MRR + expansion + reactivation - contraction - churn of customers paying at the start) / start MRR.",
    ),
    def(
        "grr",
        "start_cohort_losses_capped",
        "min(100 %, (start MRR - contraction - churn of customers paying at the start) / start MRR).",
    ),
    def(
        "arpu",
        "mrr_over_paying_customers",
        "MRR at period end / customers paying at period end (each counted once across currencies).",
    ),
    def("arr", "twelve_times_mrr", "12 x MRR at period end."),
    def(
        "quick_ratio",
        "gains_over_losses",
        "(new + expansion + reactivation) / (contraction + churn) of the period; null when nothing was lost (the SaaS quick ratio, as ChartMogul computes it).",
    ),
    def(
        "net_mrr_churn_rate",
        "losses_net_of_expansion_and_reactivation_over_start_mrr",
        "(churn + contraction - expansion - reactivation) / MRR at period start (ChartMogul's net MRR churn rate, standard formula); negative when gains outweigh losses.",
    ),
    def(
        "average_sale_price",
        "new_mrr_over_new_customers",
        "New MRR / new customers of the period (ChartMogul's average sale price); 0 when the period has no new customer.",
    ),
    def(
        "customer_movements",
        "movements_by_count",
        "Per period, the number of movements of each kind (ChartMogul counts activities): new and reactivated customers, and each day a customer's MRR went up (expansion), down (contraction) or to 0 (churn). start + new + reactivation - churn = customers at period end.",
    ),
    def(
        "subscribers",
        "customers_with_a_counted_subscription_at_period_end",
        "Customers with a subscription in a counted state (active or past_due by default, after any trial, outside a paused collection) at the end of the period, whatever its MRR: a customer on metered prices only is a subscriber with no MRR (Stripe Billing's subscribers). Each customer once across currencies.",
    ),
    def(
        "arps",
        "mrr_over_subscribers",
        "MRR at period end / subscribers at period end (Stripe Billing's average revenue per subscriber).",
    ),
    def(
        "ltv",
        "arpu_over_trailing_6_month_churn",
        "ARPU / mean monthly customer churn rate of the 6 calendar months ending with the period's last month; lifetime capped at 60 months (also when churn is 0).",
    ),
    def(
        "trial_conversion",
        "first_post_trial_invoice_paid",
        "Converted: the full trial ended, the subscription was not canceled during it, and its first invoice after the trial is paid (Stripe Billing: even if it is canceled soon after); dated when that invoice was paid. Ended unconverted: canceled during the trial (dated then), or the trial ended and its first invoice was voided or marked uncollectible, or the subscription ended, became unpaid, incomplete_expired or paused without paying it (dated at the trial end). A trial whose first invoice is still open is neither yet. Rate: converted in the period / (converted + ended unconverted in the period).",
    ),
    def(
        "refunds",
        "refund_records_by_creation",
        "Count and amount of refunds created in the period (pending or succeeded).",
    ),
    def(
        "failed_payments",
        "failed_charges_by_creation",
        "Count and amount of failed charges created in the period.",
    ),
    def(
        "lifetime_revenue",
        "succeeded_charges_minus_refunds",
        "Succeeded charges minus refunds of those charges.",
    ),
    def(
        "rfm",
        "quintiles_of_paying_customers",
        "Recency (days since last succeeded charge), frequency (succeeded charges), monetary (lifetime revenue) over customers with a succeeded charge; score = 1 + floor(5 x customers strictly worse / customers).",
    ),
    def(
        "segments",
        "new_then_recent_or_lapsed",
        "new: first payment within 30 days; else R>=4,F>=4,M>=4 champions; else R>=3 loyal; else (R<=2) M>=4 cant_lose, F>=3 at_risk, otherwise hibernating.",
    ),
    def(
        "payment_failure_risk",
        "card_expires_before_renewal",
        "The card on file (the customer's default payment method, else its latest subscription's, else the last succeeded charge's card) expires (end of its month) before a counted subscription renews, and no later succeeded charge used a card valid at renewal.",
    ),
    def(
        "churn_risk",
        "weighted_factors_v1",
        "pending_cancellation 40, failed payments in the last 90 days 15 each (max 30), a downgrade in the last 90 days 20, fewer seats than 90 days ago 10; sum capped at 100.",
    ),
    def(
        "cohorts",
        "first_payment_period_retention",
        "A customer's cohort is the period (month or quarter) of the first day its MRR becomes positive: under subscription billing, MRR starts with the first paid invoice, so this is the period of its first payment (a trial never paid joins no cohort). For each later period k: logo retention = cohort members paying at the end of period k / cohort size; revenue retention = the cohort's MRR at the end of period k / its MRR at the end of its first period (expansion included; null when that is 0). A member who churns and comes back counts as paying again. By plan or currency, the unit is a customer's MRR in that plan or currency.",
    ),
    def(
        "forecast",
        "trailing_movement_rates_v1",
        "From the last n complete months: mean new and reactivation MRR per month, mean expansion, contraction and churn rates of start MRR, mean new and reactivated customers, mean customer churn rate. MRR(t+1) = MRR(t) x (1 + expansion - contraction - churn) + new + reactivation; customers likewise. Band: sigma = residual standard error of the model's one-month errors on the n months relative to their start; low/high = point x (1 -/+ z x sigma x sqrt(h x (1 + h/n))), z = 1.645 (about 90 %).",
    ),
];

/// The definition of a concept, if the engine has one.
pub fn definition(concept: &str) -> Option<&'static Definition> {
    DEFINITIONS.iter().find(|d| d.concept == concept)
}
