//! Stripe's subscription lifecycle over the wire: the fake's lifecycle shapes (see
//! `tests/support/fake_stripe/lifecycle.rs`) give the documented MRR and movements,
//! and a later sync, after a renewal, leaves every closed month as it was.

use serde_json::Value;
use tally_tests::fake_stripe::{FakeStripe, Scenario};

use crate::helpers::{TestApp, spawn_app_with};

/// Months from 2024-08 to 2025-08, as [start, new, expansion, contraction, churn,
/// reactivation, end] in euro cents.
type Months = Vec<[i64; 7]>;

const HELD_29: [i64; 7] = [2900, 0, 0, 0, 0, 0, 2900];
const ZERO: [i64; 7] = [0; 7];
/// €290 a year is €24.1666… a month, rounded once to cents.
const ANNUAL: i64 = 2417;

async fn get(app: &TestApp, path: &str, token: &str) -> Value {
    let response = app.get(path, token).await;
    let status = response.status();
    let body: Value = response.json().await.unwrap_or(Value::Null);
    assert_eq!(status, 200, "GET {path}: {body}");
    body
}

/// The monthly movements of the customers of one country.
async fn movements(app: &TestApp, token: &str, country: &str) -> Months {
    let path = format!(
        "/v1/metrics/mrr_movements?from=2024-08-01&to=2025-08-31&interval=month&currency=eur&filter[country]={country}"
    );
    let body = get(app, &path, token).await;
    let points = body["series"].as_array().expect("a series");
    points
        .iter()
        .map(|p| {
            let int = |field: &str| p[field].as_i64().unwrap_or_else(|| panic!("{field}: {p}"));
            [
                int("start_mrr"),
                int("new"),
                int("expansion"),
                int("contraction"),
                int("churn"),
                int("reactivation"),
                int("mrr"),
            ]
        })
        .collect()
}

/// A year of months: `before` zero months, then the given ones, then `fill` to the end.
fn months(before: usize, given: &[[i64; 7]], fill: [i64; 7]) -> Months {
    let mut all = vec![ZERO; before];
    all.extend_from_slice(given);
    all.resize(13, fill);
    all
}

#[tokio::test]
async fn lifecycle_shapes_give_stripes_mrr_and_a_renewal_leaves_closed_months_alone() {
    let fake = FakeStripe::start(Scenario::new(6).with_lifecycle()).await;
    let vars = fake.config_vars();
    let vars: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
    let app = spawn_app_with(&vars).await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let integration = app.connect_fake_stripe(&token).await;
    app.sync_now(&admin, &integration).await;

    // The upgrade on 2025-06-10 (proration lines from then): June's expansion of €30.
    let upgrade = months(
        5,
        &[
            [0, 2900, 0, 0, 0, 0, 2900],
            HELD_29,
            HELD_29,
            HELD_29,
            HELD_29,
            [2900, 0, 3000, 0, 0, 0, 5900],
        ],
        [5900, 0, 0, 0, 0, 0, 5900],
    );
    // Paid for a year on 2024-08-01, paused on 2025-05-15: the nine months before are
    // kept, churn in May.
    let held = [ANNUAL, 0, 0, 0, 0, 0, ANNUAL];
    let mut annual = months(0, &[[0, ANNUAL, 0, 0, 0, 0, ANNUAL]], ZERO);
    annual[1..9].fill(held);
    annual[9] = [ANNUAL, 0, 0, 0, ANNUAL, 0, 0];
    // Paid to May 1 and paused then: churn in May, not in April.
    let paused = months(
        5,
        &[
            [0, 2900, 0, 0, 0, 0, 2900],
            HELD_29,
            HELD_29,
            HELD_29,
            [2900, 0, 0, 0, 2900, 0, 0],
        ],
        ZERO,
    );
    // Paid to April 1, then collection paused: not recurring revenue from April.
    let collection = months(
        5,
        &[
            [0, 2900, 0, 0, 0, 0, 2900],
            HELD_29,
            HELD_29,
            [2900, 0, 0, 0, 2900, 0, 0],
        ],
        ZERO,
    );
    let shapes = [
        ("NL", "cus_LUpgrade", upgrade, 5900),
        ("IE", "cus_LAnnual", annual, 0),
        ("PT", "cus_LPaused", paused, 0),
        ("FI", "cus_LCollect", collection, 0),
    ];
    for (country, customer, expected, mrr_now) in &shapes {
        assert_eq!(
            &movements(&app, &token, country).await,
            expected,
            "{customer}"
        );
        let profile = get(&app, &format!("/v1/customers/{customer}"), &token).await;
        assert_eq!(profile["mrr"], *mrr_now, "{customer}: {profile}");
    }

    // A renewal later: July billed for the upgraded and the collection-paused ones.
    fake.advance_lifecycle();
    app.sync_now(&admin, &integration).await;
    let profile = get(&app, "/v1/customers/cus_LUpgrade", &token).await;
    assert_eq!(
        profile["subscriptions"][0]["current_period_end"], "2025-08-01T00:00:00Z",
        "the second sync saw the renewal: {profile}"
    );
    for (country, customer, expected, _) in &shapes {
        assert_eq!(
            &movements(&app, &token, country).await,
            expected,
            "{customer} after a renewal"
        );
    }
}
