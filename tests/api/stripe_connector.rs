//! The Stripe adapter against the fake Stripe, over real HTTP: pagination, `status=all`,
//! retries, refused credentials, the change feed, Stripe Apps OAuth and minimization.

use std::time::Duration;

use secrecy::{ExposeSecret, SecretString};
use serde_json::json;
use tally::adapters::stripe::{
    OAuthError, RetryPolicy, StripeClient, StripeConnector, StripeOAuth, check_key,
};
use tally::config::Config;
use tally::domain::billing::{
    BillingRecord, CouponDuration, Interval, ObjectKind, SubscriptionStatus,
};
use tally::ports::{Connector, ConnectorError};
use tally_tests::fake_stripe::{
    FAKE_ACCOUNT, FAKE_API_KEY, FAKE_APP_SECRET_KEY, FAKE_CLIENT_ID, FakeStripe,
    SENSITIVE_CARD_NUMBER, SENSITIVE_FINGERPRINT, Scenario,
};

fn client(fake: &FakeStripe, credential: &str) -> StripeClient {
    StripeClient::new(&fake.base_url, SecretString::from(credential))
        .expect("a Stripe client")
        .with_retry(RetryPolicy::with_base(Duration::from_millis(5)))
}

fn connector(fake: &FakeStripe) -> StripeConnector {
    StripeConnector::new(client(fake, FAKE_API_KEY))
}

fn config(fake: &FakeStripe) -> Config {
    let vars = fake.config_vars();
    Config::from_vars(|name| vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone()))
        .expect("a configuration pointing at the fake")
}

async fn list_all(connector: &StripeConnector, kind: ObjectKind) -> Vec<BillingRecord> {
    let mut records = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = connector
            .list(kind, after.as_deref())
            .await
            .expect("a page");
        records.extend(page.records);
        match page.next {
            Some(next) => after = Some(next),
            None => return records,
        }
    }
}

fn subscriptions(records: Vec<BillingRecord>) -> Vec<tally::domain::billing::SubscriptionRecord> {
    records
        .into_iter()
        .filter_map(|r| match r {
            BillingRecord::Subscription(s) => Some(s),
            _ => None,
        })
        .collect()
}

#[tokio::test]
async fn listing_250_customers_takes_three_pages_with_the_pinned_version() {
    let fake = FakeStripe::start(Scenario::new(250)).await;
    let customers = list_all(&connector(&fake), ObjectKind::Customer).await;
    assert_eq!(customers.len(), 250);
    let mut ids: Vec<&str> = customers.iter().map(BillingRecord::id).collect();
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), 250, "no customer twice");
    assert_eq!(fake.requests_to("/v1/customers"), 3);
    assert_eq!(fake.last_stripe_version().as_deref(), Some("2026-07-29"));
}

#[tokio::test]
async fn subscriptions_include_the_canceled_one_and_the_coupon_terms() {
    let fake = FakeStripe::start(Scenario::new(8)).await;
    let subs = subscriptions(list_all(&connector(&fake), ObjectKind::Subscription).await);
    assert_eq!(subs.len(), 8);
    let status = |id: &str| subs.iter().find(|s| s.id == id).map(|s| s.status);
    assert_eq!(status("sub_T000001"), Some(SubscriptionStatus::Canceled));
    assert_eq!(status("sub_T000002"), Some(SubscriptionStatus::Trialing));
    let discounted = subs.iter().find(|s| s.id == "sub_T000003").unwrap();
    assert_eq!(discounted.discounts[0].duration, CouponDuration::Forever);
    assert_eq!(discounted.discounts[0].percent_off_bp, Some(2000));
    let annual = subs.iter().find(|s| s.id == "sub_T000001").unwrap();
    assert_eq!(annual.items[0].price.interval, Some(Interval::Year));
}

#[tokio::test]
async fn a_429_then_a_500_are_retried_and_the_listing_completes() {
    let fake = FakeStripe::start(Scenario::new(20)).await;
    fake.fail_next(1, 429);
    fake.fail_next(1, 500);
    let page = connector(&fake)
        .list(ObjectKind::Customer, None)
        .await
        .expect("the listing survives");
    assert_eq!(page.records.len(), 20);
    assert_eq!(fake.requests_to("/v1/customers"), 3);
}

#[tokio::test]
async fn a_stripe_that_keeps_failing_is_unavailable_after_bounded_attempts() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    fake.fail_next(50, 503);
    let err = connector(&fake)
        .list(ObjectKind::Charge, None)
        .await
        .unwrap_err();
    assert!(matches!(err, ConnectorError::Unavailable(_)), "{err:?}");
    assert_eq!(fake.requests_to("/v1/charges"), 5);
}

#[tokio::test]
async fn a_revoked_or_wrong_key_is_unauthorized_and_never_echoed() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let wrong = StripeConnector::new(client(&fake, "rk_test_WRONGKEY"));
    let err = wrong.list(ObjectKind::Customer, None).await.unwrap_err();
    assert!(matches!(err, ConnectorError::Unauthorized));
    assert!(!format!("{err:?} {err}").contains("WRONGKEY"));
    assert!(check_key(&client(&fake, FAKE_API_KEY)).await.is_ok());
    fake.revoke_api_key();
    assert!(matches!(
        check_key(&client(&fake, FAKE_API_KEY)).await,
        Err(ConnectorError::Unauthorized)
    ));
    assert_eq!(fake.requests_to("/v1/customers"), 3, "a 401 is not retried");
}

#[tokio::test]
async fn changes_since_a_cursor_are_the_changed_objects_oldest_first() {
    let fake = FakeStripe::start(Scenario::new(12)).await;
    let stripe = connector(&fake);
    let start = stripe.changes_since(None).await.unwrap();
    assert!(start.changes.is_empty());
    let cursor = start.cursor.expect("the cursor of now");

    fake.update_subscription("sub_T000007", |s| {
        s["items"]["data"][0]["quantity"] = json!(5)
    });
    fake.add_event("invoice.paid", "in_T000008");
    fake.update_subscription("sub_T000007", |s| s["cancel_at_period_end"] = json!(true));
    fake.delete_customer("cus_T000009");

    let page = stripe.changes_since(Some(&cursor)).await.unwrap();
    let seen: Vec<(ObjectKind, &str, bool)> = page
        .changes
        .iter()
        .map(|c| (c.kind, c.id.as_str(), c.deleted))
        .collect();
    assert_eq!(
        seen,
        vec![
            (ObjectKind::Invoice, "in_T000008", false),
            (ObjectKind::Subscription, "sub_T000007", false),
            (ObjectKind::Customer, "cus_T000009", true),
        ]
    );
    assert!(!page.has_more);
    let again = stripe.changes_since(page.cursor.as_deref()).await.unwrap();
    assert!(again.changes.is_empty());
    assert_eq!(again.cursor, page.cursor, "nothing new keeps the cursor");

    let Some(BillingRecord::Subscription(sub)) = stripe
        .fetch(ObjectKind::Subscription, "sub_T000007")
        .await
        .unwrap()
    else {
        panic!("the subscription is re-fetched");
    };
    assert_eq!(sub.items[0].quantity, 5);
    assert!(sub.cancel_at_period_end);
    let Some(BillingRecord::Customer(gone)) = stripe
        .fetch(ObjectKind::Customer, "cus_T000009")
        .await
        .unwrap()
    else {
        panic!("a deleted customer answers as deleted");
    };
    assert!(gone.deleted);
    assert_eq!(
        stripe.fetch(ObjectKind::Invoice, "in_Tnone").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn many_changes_come_in_pages_of_100() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let stripe = connector(&fake);
    let cursor = stripe.changes_since(None).await.unwrap().cursor;
    let ids = ["cus_T000000", "cus_T000001", "cus_T000002"];
    for n in 0..75 {
        // Alternate objects so that deduplication keeps every event distinct in order.
        fake.add_event("customer.updated", ids[n % 3]);
        fake.add_event("charge.updated", &format!("ch_T{:06}", n % 6));
    }
    let first = stripe.changes_since(cursor.as_deref()).await.unwrap();
    assert!(first.has_more);
    let second = stripe.changes_since(first.cursor.as_deref()).await.unwrap();
    assert!(!second.has_more);
    assert!(second.changes.len() <= 9 && !second.changes.is_empty());
    assert_ne!(first.cursor, second.cursor);
}

#[tokio::test]
async fn an_expired_cursor_asks_for_a_full_sync() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let stripe = connector(&fake);
    let cursor = stripe.changes_since(None).await.unwrap().cursor.unwrap();
    fake.expire_events();
    let err = stripe.changes_since(Some(&cursor)).await.unwrap_err();
    assert!(matches!(err, ConnectorError::CursorExpired), "{err:?}");
    let since = stripe.changes_since(None).await.unwrap().cursor.unwrap();
    assert!(
        since.starts_with("since:"),
        "an account without events: {since}"
    );
    fake.add_event("customer.updated", "cus_T000004");
    let page = stripe.changes_since(Some(&since)).await.unwrap();
    assert_eq!(page.changes.len(), 1);
    assert_eq!(page.changes[0].id, "cus_T000004");
}

#[tokio::test]
async fn oauth_exchange_and_refresh_rotate_the_refresh_token() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let app_key = SecretString::from(FAKE_APP_SECRET_KEY);
    let oauth = StripeOAuth::new(&config(&fake), FAKE_CLIENT_ID, app_key).unwrap();

    // The install link, followed as a browser would, returns with a code and the state.
    let link = oauth
        .authorize_url("http://127.0.0.1:9/callback", "st-123")
        .unwrap();
    let browser = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    let back = browser.get(&link).send().await.unwrap();
    assert_eq!(back.status(), 302);
    let location = reqwest::Url::parse(back.headers()["location"].to_str().unwrap()).unwrap();
    let query: Vec<(String, String)> = location.query_pairs().into_owned().collect();
    assert!(query.contains(&("state".into(), "st-123".into())));
    let code = query.iter().find(|(k, _)| k == "code").unwrap().1.clone();

    let tokens = oauth.exchange_code(&code, 1_000).await.unwrap();
    assert_eq!(tokens.stripe_user_id, FAKE_ACCOUNT);
    assert_eq!(tokens.expires_at, 4_600);
    check_key(&client(&fake, tokens.access_token.expose_secret()))
        .await
        .expect("the access token reads");
    assert!(
        matches!(
            oauth.exchange_code(&code, 1_000).await,
            Err(OAuthError::InvalidGrant { .. })
        ),
        "a code is single-use"
    );

    let refreshed = oauth.refresh(&tokens.refresh_token, 2_000).await.unwrap();
    assert_ne!(
        refreshed.refresh_token.expose_secret(),
        tokens.refresh_token.expose_secret()
    );
    assert!(
        matches!(
            oauth.refresh(&tokens.refresh_token, 2_000).await,
            Err(OAuthError::InvalidGrant { .. })
        ),
        "the old refresh token died"
    );

    let impostor = StripeOAuth::new(
        &config(&fake),
        FAKE_CLIENT_ID,
        SecretString::from("sk_test_other"),
    )
    .unwrap();
    assert_eq!(
        impostor
            .refresh(&refreshed.refresh_token, 2_000)
            .await
            .unwrap_err(),
        OAuthError::Unauthorized
    );

    oauth.deauthorize(FAKE_ACCOUNT).await.unwrap();
    assert!(matches!(
        check_key(&client(&fake, refreshed.access_token.expose_secret())).await,
        Err(ConnectorError::Unauthorized)
    ));
}

#[tokio::test]
async fn invoices_come_with_all_their_lines_and_their_prices() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let stripe = connector(&fake);
    let Some(BillingRecord::Invoice(invoice)) = stripe
        .fetch(ObjectKind::Invoice, "in_T000005")
        .await
        .unwrap()
    else {
        panic!("the invoice is there");
    };
    assert_eq!(invoice.lines.len(), 12, "past the 10 embedded lines");
    assert_eq!(invoice.subscription.as_deref(), Some("sub_T000005"));
    assert!(
        invoice
            .lines
            .iter()
            .all(|l| l.price.as_ref().unwrap().interval == Some(Interval::Year))
    );
    assert!(invoice.lines[1].proration && !invoice.lines[0].proration);
    let all = list_all(&stripe, ObjectKind::Invoice).await;
    assert_eq!(all.len(), 6);
    assert_eq!(
        fake.requests_to("/v1/prices/price_TAnnual"),
        1,
        "each price is looked up once"
    );
}

#[tokio::test]
async fn no_card_number_last4_or_fingerprint_reaches_a_record() {
    let fake = FakeStripe::start(Scenario::new(6)).await;
    let stripe = connector(&fake);
    let mut records = Vec::new();
    for kind in ObjectKind::ALL {
        records.extend(list_all(&stripe, kind).await);
    }
    for (kind, id) in [
        (ObjectKind::PaymentMethod, "pm_T000000"),
        (ObjectKind::Charge, "ch_T000000"),
    ] {
        records.extend(stripe.fetch(kind, id).await.unwrap());
    }
    let payment_methods = records
        .iter()
        .filter(|r| r.kind() == ObjectKind::PaymentMethod)
        .count();
    assert_eq!(
        payment_methods, 7,
        "every customer's default, plus the fetched one"
    );
    let failed = records.iter().any(|r| matches!(r, BillingRecord::Charge(c) if c.failure_code.as_deref() == Some("card_declined")));
    assert!(failed, "the failed charge keeps its failure code");
    assert!(records.iter().any(|r| r.kind() == ObjectKind::Refund));

    let serialized = serde_json::to_string(&records).unwrap();
    for forbidden in [
        SENSITIVE_CARD_NUMBER,
        SENSITIVE_FINGERPRINT,
        "\"4242\"",
        "\"1881\"",
        "fpT0",
        "last4",
        "fingerprint",
        "cvc",
        "Example Street",
        "Rear building",
        "10115",
        "Example State",
        "Customer Number",
        "5550000",
        "crm",
        "VIP customer",
        "Secret line",
        "sales_rep",
        "internal",
    ] {
        assert!(
            !serialized.contains(forbidden),
            "{forbidden:?} reached a record"
        );
    }
    assert!(serialized.contains("customer0@example.com") && serialized.contains("Berlin"));
}
