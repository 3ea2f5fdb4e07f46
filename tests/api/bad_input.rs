//! Bad input, table-driven: oversized and malformed bodies, wrong types, unicode edge
//! cases in e-mails and passwords, out-of-range limits, forged cursors, catch-all CIDRs,
//! path traversal in ids and other tenants' ids. Each case answers its 4xx in the API's
//! error shape, with the security headers, without echoing what was sent, and the store
//! (every item, and the event log) is exactly as it was before the whole table ran.
//!
//! Only two kinds of items may change meanwhile, and both by design: the rate-limit
//! counters (`RATE#…`: a refused sign-up still counts against its address) and the
//! sessions' last-activity stamps (`SESSION#…` and the tenant's `SESSIONREF#…` rows: a
//! refused call is still activity of a valid session).

use std::collections::BTreeMap;
use std::net::IpAddr;

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{TenantB, TestApp, spawn_app, tenant_b};

/// Every item of the embedded store but the two kinds above, and the event log.
#[derive(Debug, PartialEq)]
struct StoreSnapshot {
    items: BTreeMap<(String, String), (i64, String)>,
    events: String,
}

fn snapshot(app: &TestApp) -> StoreSnapshot {
    let dir = app.data_dir.path().join("data");
    let db = rusqlite::Connection::open_with_flags(
        dir.join("tally.db"),
        rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY,
    )
    .expect("the store opens read-only");
    let mut query = db
        .prepare("SELECT pk, sk, version, attrs FROM items")
        .expect("the items query");
    let rows = query
        .query_map([], |row| {
            Ok((
                (row.get::<_, String>(0)?, row.get::<_, String>(1)?),
                (row.get::<_, i64>(2)?, row.get::<_, String>(3)?),
            ))
        })
        .expect("the items are read");
    let items = rows
        .map(|row| row.expect("an item"))
        .filter(|((pk, sk), _)| {
            !pk.starts_with("RATE#")
                && !pk.starts_with("SESSION#")
                && !sk.starts_with("SESSIONREF#")
        })
        .collect();
    StoreSnapshot {
        items,
        events: std::fs::read_to_string(dir.join("events.jsonl")).unwrap_or_default(),
    }
}

enum Body {
    None,
    Json(Value),
    /// Sent as-is with `Content-Type: application/json`.
    Raw(String),
}

struct Case {
    name: &'static str,
    method: Method,
    path: String,
    signed_in: bool,
    body: Body,
    status: u16,
    code: &'static str,
}

fn case(
    name: &'static str,
    method: Method,
    path: impl Into<String>,
    signed_in: bool,
    body: Body,
    status: u16,
    code: &'static str,
) -> Case {
    Case {
        name,
        method,
        path: path.into(),
        signed_in,
        body,
        status,
        code,
    }
}

const STRONG: &str = "Correct-Horse-Battery-9";

fn cases(own_user: &str, other: &TenantB) -> Vec<Case> {
    use Method as M;
    let big = "x".repeat(65 * 1024);
    let deep_array = "[".repeat(50_000);
    let deep_object = "{\"email\":".repeat(6_000);
    let forged = |sk: &str| tally::ports::Cursor::after_sort_key(sk).encode();
    let signup = |email: &str, password: &str| {
        Body::Json(json!({ "company": "Bad Input GmbH", "email": email, "password": password }))
    };
    let mut all = vec![
        // Oversized, deep, invalid, non-object bodies.
        case("oversized sign-up", M::POST, "/v1/signup", false,
             Body::Raw(format!("{{\"company\":\"{big}\"}}")), 413, "payload_too_large"),
        case("oversized invite", M::POST, "/v1/users", true,
             Body::Raw(format!("{{\"email\":\"{big}@example.com\",\"role\":\"viewer\"}}")), 413, "payload_too_large"),
        case("deep array", M::POST, "/v1/users", true, Body::Raw(deep_array.clone()), 400, "invalid_request"),
        case("deep object", M::POST, "/v1/security/ip-allowlist", true, Body::Raw(deep_object), 400, "invalid_request"),
        case("truncated JSON", M::POST, "/v1/signup", false, Body::Raw("{\"email\":".into()), 400, "invalid_request"),
        case("trailing data", M::PUT, "/v1/security/policy", true, Body::Raw("{} {}".into()), 400, "invalid_request"),
        case("lone surrogate", M::POST, "/v1/signup", false,
             Body::Raw(r#"{"company":"A","email":"a\ud800@example.com","password":"Correct-Horse-Battery-9"}"#.into()), 400, "invalid_request"),
        case("array for an object", M::PATCH, format!("/v1/users/{own_user}"), true,
             Body::Raw("[null, null]".into()), 400, "invalid_request"),
        case("null body", M::POST, "/v1/users", true, Body::Raw("null".into()), 400, "invalid_request"),
        // Wrong types.
        case("number for an e-mail", M::POST, "/v1/users", true,
             Body::Json(json!({ "email": 5, "role": "viewer" })), 400, "invalid_request"),
        case("unknown role", M::POST, "/v1/users", true,
             Body::Json(json!({ "email": "x@example.com", "role": "root" })), 400, "invalid_request"),
        case("string for a flag", M::PATCH, format!("/v1/users/{own_user}"), true,
             Body::Json(json!({ "disabled": "yes" })), 400, "invalid_request"),
        case("unknown policy preset", M::PUT, "/v1/security/policy", true,
             Body::Json(json!({ "preset": "lax", "require_mfa": false })), 400, "invalid_request"),
        case("string for a policy flag", M::PUT, "/v1/security/policy", true,
             Body::Json(json!({ "preset": "nist", "require_mfa": "yes" })), 400, "invalid_request"),
        case("object for FX rates", M::PUT, "/v1/settings/fx-rates", true,
             Body::Json(json!({ "rates": [1, 2] })), 400, "invalid_request"),
        case("array for a key", M::POST, "/v1/integrations", true,
             Body::Json(json!({ "provider": "stripe", "api_key": ["rk_test_1"] })), 400, "invalid_request"),
        case("unknown provider", M::POST, "/v1/integrations", true,
             Body::Json(json!({ "provider": "paypal", "api_key": "rk_test_1" })), 400, "invalid_request"),
        // Unicode edge cases in e-mails ...
        case("right-to-left override in an e-mail", M::POST, "/v1/signup", false,
             signup("evil\u{202e}moc.elpmaxe@example.com", STRONG), 400, "invalid_request"),
        case("zero-width joiner in an e-mail", M::POST, "/v1/signup", false,
             signup("ad\u{200d}min@example.com", STRONG), 400, "invalid_request"),
        case("NUL in an e-mail", M::POST, "/v1/signup", false,
             signup("admin\u{0}@example.com", STRONG), 400, "invalid_request"),
        case("no-break space in an e-mail", M::POST, "/v1/signup", false,
             signup("admin\u{a0}@example.com", STRONG), 400, "invalid_request"),
        case("two @ in an e-mail", M::POST, "/v1/signup", false,
             signup("a@b@example.com", STRONG), 400, "invalid_request"),
        case("300-byte e-mail", M::POST, "/v1/signup", false,
             signup(&format!("{}@example.com", "é".repeat(150)), STRONG), 400, "invalid_request"),
        case("invisible invitee", M::POST, "/v1/users", true,
             Body::Json(json!({ "email": "\u{feff}x@example.com", "role": "viewer" })), 400, "invalid_request"),
        // ... and in passwords (lengths count characters, not bytes).
        case("eleven emoji are too short", M::POST, "/v1/signup", false,
             signup("emoji@example.com", &"🔒".repeat(11)), 400, "weak_password"),
        case("129 accented letters are too long", M::POST, "/v1/signup", false,
             signup("long@example.com", &format!("Aa1-{}", "é".repeat(125))), 400, "weak_password"),
        case("combining marks only", M::POST, "/v1/signup", false,
             signup("marks@example.com", &"e\u{301}".repeat(3)), 400, "weak_password"),
        // Limits and cursors.
        case("huge limit", M::GET, "/v1/users?limit=100000000000000000000000", true, Body::None, 400, "invalid_request"),
        case("limit over 200", M::GET, "/v1/security/audit-log?limit=201", true, Body::None, 400, "invalid_request"),
        case("zero limit", M::GET, "/v1/me/sessions?limit=0", true, Body::None, 400, "invalid_request"),
        case("negative limit", M::GET, "/v1/integrations?limit=-1", true, Body::None, 400, "invalid_request"),
        case("fractional limit", M::GET, "/v1/security/ip-allowlist?limit=1.5", true, Body::None, 400, "invalid_request"),
        case("limit on customers", M::GET, "/v1/customers?limit=201", true, Body::None, 400, "invalid_request"),
        case("cursor that is not base64", M::GET, "/v1/users?cursor=%25%25%25", true, Body::None, 400, "invalid_request"),
        // A store cursor is a position inside the caller's own selection: one naming
        // another kind of item (sessions, from the users list) is refused.
        case("cursor outside the users", M::GET,
             format!("/v1/users?cursor={}", forged("SESSIONREF#x")), true, Body::None, 400, "invalid_request"),
        case("cursor naming no session", M::GET,
             format!("/v1/me/sessions?cursor={}", forged(&other.session_id)), true, Body::None, 400, "invalid_request"),
        case("cursor naming no entry", M::GET,
             format!("/v1/security/ip-allowlist?cursor={}", forged(&other.entry_id)), true, Body::None, 400, "invalid_request"),
        case("cursor naming another tenant's integration", M::GET,
             format!("/v1/integrations?cursor={}", forged(&other.integration_id)), true, Body::None, 400, "invalid_request"),
        case("cursor outside the audit log", M::GET,
             format!("/v1/security/audit-log?cursor={}", forged("TENANT")), true, Body::None, 400, "invalid_request"),
        case("garbage after a date", M::GET, "/v1/metrics/mrr?from=2025-01-01garbage", true, Body::None, 400, "invalid_request"),
        // Catch-all and malformed CIDRs.
        case("0.0.0.0/0", M::POST, "/v1/security/ip-allowlist", true,
             Body::Json(json!({ "cidr": "0.0.0.0/0", "note": "all" })), 400, "invalid_cidr"),
        case("::/0", M::POST, "/v1/security/ip-allowlist", true,
             Body::Json(json!({ "cidr": "::/0", "note": "all" })), 400, "invalid_cidr"),
        case("/33", M::POST, "/v1/security/ip-allowlist", true,
             Body::Json(json!({ "cidr": "10.0.0.0/33", "note": "" })), 400, "invalid_cidr"),
        case("fullwidth digits", M::POST, "/v1/security/ip-allowlist", true,
             Body::Json(json!({ "cidr": "１２７.0.0.1", "note": "" })), 400, "invalid_cidr"),
        case("hostname", M::POST, "/v1/security/ip-allowlist", true,
             Body::Json(json!({ "cidr": "localhost", "note": "" })), 400, "invalid_cidr"),
        // Another tenant's ids: not found, never forbidden.
        case("other tenant's user, patched", M::PATCH, format!("/v1/users/{}", other.admin.user_id), true,
             Body::Json(json!({ "role": "viewer" })), 404, "not_found"),
        case("other tenant's user, deleted", M::DELETE, format!("/v1/users/{}", other.admin.user_id), true,
             Body::None, 404, "not_found"),
        case("other tenant's session", M::DELETE, format!("/v1/me/sessions/{}", other.session_id), true,
             Body::None, 404, "not_found"),
        case("other tenant's allowlist entry", M::DELETE,
             format!("/v1/security/ip-allowlist/{}", other.entry_id), true, Body::None, 404, "not_found"),
        case("other tenant's integration, disconnected", M::DELETE,
             format!("/v1/integrations/{}", other.integration_id), true, Body::None, 404, "not_found"),
        case("other tenant's integration, synced", M::POST,
             format!("/v1/integrations/{}/sync", other.integration_id), true, Body::None, 404, "not_found"),
        case("other tenant's export", M::GET, format!("/v1/exports/{}", other.export_id), true,
             Body::None, 404, "not_found"),
        // Support grants and operator sign-in: limits and types, checked before anything
        // is written.
        case("grant of 73 hours", M::POST, "/v1/support/grants", true,
             Body::Json(json!({ "operator_id": other.admin.user_id, "reason": "Ticket 4711: figures", "duration_hours": 73 })),
             400, "invalid_request"),
        case("grant of hours as text", M::POST, "/v1/support/grants", true,
             Body::Json(json!({ "operator_id": other.admin.user_id, "reason": "Ticket 4711: figures", "duration_hours": "72" })),
             400, "invalid_request"),
        case("grant without a reason", M::POST, "/v1/support/grants", true,
             Body::Json(json!({ "operator_id": other.admin.user_id, "duration_hours": 1 })),
             400, "invalid_request"),
        case("grant to a traversal", M::POST, "/v1/support/grants", true,
             Body::Json(json!({ "operator_id": "../OPERATOR#x", "reason": "Ticket 4711: figures", "duration_hours": 1 })),
             400, "invalid_request"),
        case("grant to nobody", M::POST, "/v1/support/grants", true,
             Body::Json(json!({ "operator_id": other.admin.user_id, "reason": "Ticket 4711: figures", "duration_hours": 1 })),
             400, "invalid_request"),
        case("unknown grant revoked", M::DELETE, format!("/v1/support/grants/{}", other.entry_id), true,
             Body::None, 404, "not_found"),
        case("number for an operator's e-mail", M::POST, "/v1/operator/sessions", false,
             Body::Json(json!({ "email": 42, "password": STRONG, "totp_code": "123456" })), 400, "invalid_request"),
        case("operator sign-in without a password", M::POST, "/v1/operator/sessions", false,
             Body::Json(json!({ "email": "staff@example.com" })), 400, "invalid_request"),
    ];
    // Path traversal and encoded separators in every kind of id.
    for (path, method) in [
        ("/v1/users/{}", M::PATCH),
        ("/v1/users/{}", M::DELETE),
        ("/v1/me/sessions/{}", M::DELETE),
        ("/v1/security/ip-allowlist/{}", M::DELETE),
        ("/v1/integrations/{}", M::DELETE),
        ("/v1/support/grants/{}", M::DELETE),
        ("/v1/integrations/{}/sync", M::POST),
        ("/v1/exports/{}", M::GET),
    ] {
        for id in [
            "..%2F..%2Fetc%2Fpasswd",
            "%2e%2e%2f%2e%2e%2f",
            "..%5C..%5Cwindows",
            "%00",
            "USER%23x",
        ] {
            let body = if method == M::PATCH {
                Body::Json(json!({ "role": "viewer" }))
            } else {
                Body::None
            };
            all.push(case(
                "traversal in an id",
                method.clone(),
                path.replace("{}", id),
                true,
                body,
                404,
                "not_found",
            ));
        }
    }
    all
}

#[tokio::test]
async fn every_bad_input_answers_its_4xx_and_leaves_the_store_unchanged() {
    let app = spawn_app().await;
    let admin = app.signup().await;
    let token = app.login(&admin).await;
    let other = tenant_b(&app).await;
    let table = cases(&admin.user_id, &other);
    let before = snapshot(&app);
    assert!(
        before.items.len() > 10 && !before.events.is_empty(),
        "both tenants' items and events are in the snapshot: {} items, {} bytes of events",
        before.items.len(),
        before.events.len()
    );

    for (n, case) in table.iter().enumerate() {
        // Each case from its own loopback address: the sign-up cases would otherwise
        // meet the per-address rate limit before their own check.
        let ip: IpAddr = [127, 0, 1 + (n / 250) as u8, 1 + (n % 250) as u8].into();
        let client = TestApp::client_from(ip);
        let mut request =
            client.request(case.method.clone(), format!("{}{}", app.address, case.path));
        if case.signed_in {
            request = request.bearer_auth(&token);
        }
        request = match &case.body {
            Body::None => request,
            Body::Json(value) => request.json(value),
            Body::Raw(text) => request
                .header("content-type", "application/json")
                .body(text.clone()),
        };
        let response = request.send().await.expect("the request is sent");
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let what = format!(
            "{} ({} {}): {status} {text}",
            case.name, case.method, case.path
        );
        assert_eq!(status, case.status, "{what}");
        let body: Value = serde_json::from_str(&text).unwrap_or_else(|_| panic!("JSON: {what}"));
        assert_eq!(body["error"]["code"], case.code, "{what}");
        assert!(
            body["error"]["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty()),
            "{what}"
        );
        assert_eq!(headers["cache-control"], "no-store", "{what}");
        assert_eq!(headers["x-content-type-options"], "nosniff", "{what}");
        assert!(headers.contains_key("strict-transport-security"), "{what}");
        assert!(headers.contains_key("x-request-id"), "{what}");
        for secret in [STRONG, "🔒🔒🔒", "evil\u{202e}", "１２７", "etc/passwd"] {
            assert!(!text.contains(secret), "the reply echoes the input: {what}");
        }
    }

    let after = snapshot(&app);
    if before != after {
        let changed: Vec<_> = before
            .items
            .keys()
            .chain(after.items.keys())
            .filter(|k| before.items.get(k) != after.items.get(k))
            .collect();
        panic!(
            "the store changed: items {changed:?}; events changed: {}",
            before.events != after.events
        );
    }
    // The table really ran: the admin's session still works and nothing was refused
    // for a reason other than the input.
    assert_eq!(app.get("/v1/me", &token).await.status(), 200);
}
