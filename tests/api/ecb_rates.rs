//! The ECB's reference rates after the shipped history: the daily refresh fetches the
//! ECB's file from `TALLY_ECB_DAILY_URL` (here a file server on 127.0.0.1 standing in
//! for www.ecb.europa.eu), stores each new day, and `fx_history()` answers it.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use chrono::NaiveDate;
use serde_json::json;
use tally::domain::fx_history::{self, day_number};
use tally::repos::EntityKey;
use tally::repos::fx::EcbDayKey;
use tokio::sync::oneshot;

use crate::helpers::{TestApp, ingest_workers, spawn_app_with};

const PATH: &str = "/stats/eurofxref/eurofxref-daily.xml";

/// The daily file in the ECB's published shape.
fn daily_xml(date: &str, usd: &str) -> String {
    format!(
        r#"<?xml version="1.0" encoding="UTF-8"?>
<gesmes:Envelope xmlns:gesmes="http://www.gesmes.org/xml/2002-08-01" xmlns="http://www.ecb.int/vocabulary/2002-08-01/eurofxref">
	<gesmes:subject>Reference rates</gesmes:subject>
	<gesmes:Sender>
		<gesmes:name>European Central Bank</gesmes:name>
	</gesmes:Sender>
	<Cube>
		<Cube time='{date}'>
			<Cube currency='USD' rate='{usd}'/>
			<Cube currency='JPY' rate='157.45'/>
			<Cube currency='GBP' rate='0.8512'/>
		</Cube>
	</Cube>
</gesmes:Envelope>
"#
    )
}

type Answer = Arc<Mutex<(StatusCode, String)>>;

/// A file server on a loopback port answering `PATH` with whatever `answer` holds.
struct EcbServer {
    url: String,
    answer: Answer,
    _shutdown: oneshot::Sender<()>,
}

impl EcbServer {
    async fn start(status: StatusCode, body: String) -> Self {
        let answer: Answer = Arc::new(Mutex::new((status, body)));
        let app = Router::new()
            .route(
                PATH,
                get(|State(answer): State<Answer>| async move { answer.lock().unwrap().clone() }),
            )
            .with_state(answer.clone());
        let (address, tx) = tally_tests::serve_on_loopback(app, "the ECB file server").await;
        EcbServer {
            url: format!("http://{address}{PATH}"),
            answer,
            _shutdown: tx,
        }
    }

    fn answer(&self, status: StatusCode, body: String) {
        *self.answer.lock().unwrap() = (status, body);
    }
}

async fn app_reading(server: &EcbServer) -> TestApp {
    spawn_app_with(&[("TALLY_ECB_DAILY_URL", server.url.as_str())]).await
}

fn day(text: &str) -> u32 {
    day_number(NaiveDate::parse_from_str(text, "%Y-%m-%d").unwrap()).unwrap()
}

#[tokio::test]
async fn the_refresh_stores_the_ecb_day_and_the_history_then_answers_its_rate() {
    let server = EcbServer::start(StatusCode::OK, daily_xml("2026-12-01", "1.0834")).await;
    let app = app_reading(&server).await;
    let shipped_last = fx_history::bundled().last_date().unwrap();
    assert!(shipped_last < NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    let before = app.services.analytics.fx_history().await.unwrap();
    let shipped_usd = before.per_eur("usd", day_number(shipped_last).unwrap());
    assert_eq!(before.per_eur("usd", day("2026-12-01")), shipped_usd);

    let refresh = app.services.analytics.refresh_ecb_rates().await.unwrap();
    assert_eq!(refresh.date, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    assert_eq!(
        (refresh.currencies, refresh.days, refresh.stored),
        (3, 1, 1)
    );

    let history = app.services.analytics.fx_history().await.unwrap();
    assert_eq!(
        history.per_eur("usd", day("2026-12-01")),
        Some(1_083_400_000)
    );
    assert_eq!(
        history.per_eur("jpy", day("2026-12-02")),
        Some(157_450_000_000)
    );
    assert_eq!(history.per_eur("gbp", day("2026-12-05")), Some(851_200_000));
    // The days between the shipped history and the new one keep the last shipped rate.
    assert_eq!(history.per_eur("usd", day("2026-11-30")), shipped_usd);
    // A currency the file did not name keeps its shipped rate after it.
    assert_eq!(
        history.per_eur("chf", day("2026-12-01")),
        before.per_eur("chf", day("2026-12-01"))
    );
    let store = &app.services.adapters.store;
    let item = store.get(&ecb_day_key(refresh.date)).await.unwrap();
    assert!(item.is_some_and(|i| i.s("date") == Some("2026-12-01")));

    // The same file again writes nothing; a corrected one replaces the day.
    let again = app.services.analytics.refresh_ecb_rates().await.unwrap();
    assert_eq!(again.stored, 0);
    server.answer(StatusCode::OK, daily_xml("2026-12-01", "1.0901"));
    assert_eq!(
        app.services
            .analytics
            .refresh_ecb_rates()
            .await
            .unwrap()
            .stored,
        1
    );
    let history = app.services.analytics.fx_history().await.unwrap();
    assert_eq!(
        history.per_eur("usd", day("2026-12-01")),
        Some(1_090_100_000)
    );
}

#[tokio::test]
async fn a_day_the_shipped_history_already_has_is_not_stored() {
    let shipped_last = fx_history::bundled().last_date().unwrap();
    let date = shipped_last.format("%Y-%m-%d").to_string();
    let server = EcbServer::start(StatusCode::OK, daily_xml(&date, "9.99")).await;
    let app = app_reading(&server).await;
    let refresh = app.services.analytics.refresh_ecb_rates().await.unwrap();
    assert_eq!(refresh.stored, 0);
    let history = app.services.analytics.fx_history().await.unwrap();
    assert_ne!(history.per_eur("usd", day(&date)), Some(9_990_000_000));
}

#[tokio::test]
async fn a_failed_fetch_is_an_error_that_echoes_neither_the_body_nor_the_url() {
    let server = EcbServer::start(StatusCode::BAD_GATEWAY, "SECRET-BODY".into()).await;
    let app = app_reading(&server).await;
    let bodies = [
        (StatusCode::BAD_GATEWAY, "SECRET-BODY".to_owned()),
        (StatusCode::OK, "<html>SECRET-BODY</html>".to_owned()),
        (StatusCode::OK, daily_xml("2026-12-01", "SECRET-BODY")),
    ];
    for (status, body) in bodies {
        server.answer(status, body);
        let err = app
            .services
            .analytics
            .refresh_ecb_rates()
            .await
            .unwrap_err();
        let message = err.to_string();
        assert!(!message.contains("SECRET-BODY"), "{message}");
        assert!(!message.contains("127.0.0.1"), "{message}");
    }
    let key = ecb_day_key(NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
    let item = app.services.adapters.store.get(&key).await.unwrap();
    assert!(item.is_none());

    // Nobody listening: a transport error, named without the URL.
    drop(server);
    let err = app
        .services
        .analytics
        .refresh_ecb_rates()
        .await
        .unwrap_err();
    assert!(!err.to_string().contains("127.0.0.1"), "{err}");
}

#[tokio::test]
async fn the_ingest_function_runs_the_refresh_on_the_daily_schedule_input() {
    let server = EcbServer::start(StatusCode::OK, daily_xml("2026-12-01", "1.0834")).await;
    let app = app_reading(&server).await;
    let reply =
        tally::lambda::handle_ingest_event(&ingest_workers(&app), json!({"job": "fx_refresh"}))
            .await
            .unwrap();
    assert_eq!(reply["date"], "2026-12-01");
    assert_eq!(reply["stored"], 1);
}

#[test]
fn the_template_schedules_the_refresh_daily_on_the_ingest_function() {
    let template = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../infra/template.yaml"
    ))
    .expect("infra/template.yaml is readable");
    let ingest = template
        .split("  IngestFunction:")
        .nth(1)
        .expect("an IngestFunction")
        .split("\n  # ---")
        .next()
        .unwrap_or_default();
    assert!(
        ingest.contains(r#"Input: '{"job": "fx_refresh"}'"#),
        "{ingest}"
    );
    assert!(ingest.contains("Schedule: cron("));
}

fn ecb_day_key(date: NaiveDate) -> tally::ports::Key {
    EcbDayKey { date }.key()
}
