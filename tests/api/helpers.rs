//! `spawn_app()`: every HTTP test gets its own Tally — its own data directory, keys and
//! port — on the embedded adapters, with a clock the test can move instead of sleeping.
//! `TestApp` speaks HTTP to it like a client would.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use reqwest::{Method, Response};
use serde_json::{Value, json};
use tally::config::Config;
use tally::domain::ids::{IntegrationId, TenantId};
use tally::local::Application;
use tally::ports::ShiftedClock;
use tally::services::Services;
use tempfile::TempDir;
use tokio::sync::oneshot;

/// A password that meets the default policy.
pub const GOOD_PASSWORD: &str = "Correct-Horse-42-Battery";

pub struct TestApp {
    pub address: String,
    pub clock: Arc<ShiftedClock>,
    pub services: Arc<Services>,
    pub data_dir: TempDir,
    client: reqwest::Client,
    _shutdown: oneshot::Sender<()>,
}

/// A signed-up tenant and its first admin.
#[derive(Clone, Debug)]
pub struct TestUser {
    pub email: String,
    pub password: String,
    pub tenant_id: String,
    pub user_id: String,
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(&[]).await
}

/// An app configured as by these environment variables (the process environment is
/// not read: tests run in parallel).
pub async fn spawn_app_with(vars: &[(&str, &str)]) -> TestApp {
    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from_vars(|name| vars.get(name).cloned()).expect("test configuration");
    let data_dir = tempfile::tempdir().expect("temporary data dir");
    let clock = Arc::new(ShiftedClock::new());
    let app = Application::build(
        config,
        &data_dir.path().join("data"),
        "127.0.0.1:0".parse().unwrap(),
        clock.clone(),
    )
    .await
    .expect("the app builds");
    let addr = app.local_addr();
    let services = app.services.clone();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(app.serve_until(async {
        let _ = rx.await;
    }));
    TestApp {
        address: format!("http://{addr}"),
        clock,
        services,
        data_dir,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _shutdown: tx,
    }
}

/// The same app on the AWS adapters, against the moto server the test script starts
/// (a fresh table, KMS key and bus; Secrets Manager is shared, names are per tenant).
pub async fn spawn_app_on_moto(vars: &[(&str, &str)]) -> TestApp {
    use tally::adapters::Adapters;
    use tally_tests::moto;

    let vars: HashMap<String, String> = vars
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let config = Config::from_vars(|name| vars.get(name).cloned()).expect("test configuration");
    let clock = Arc::new(ShiftedClock::new());
    let (bus, _observer) = moto::fresh_event_bus().await;
    let adapters = Adapters {
        store: Arc::new(moto::fresh_table().await),
        keys: Arc::new(moto::fresh_kms_key().await),
        secrets: Arc::new(moto::secrets_manager().await),
        events: Arc::new(bus),
        clock: clock.clone(),
    };
    let services = Services::new(adapters, config);
    services
        .guard
        .ensure_lookup_pepper()
        .await
        .expect("the lookup pepper");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = tally::http::local_app(&services)
        .into_make_service_with_connect_info::<std::net::SocketAddr>();
    let (tx, rx) = oneshot::channel::<()>();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router)
            .with_graceful_shutdown(async {
                let _ = rx.await;
            })
            .await;
    });
    TestApp {
        address: format!("http://{addr}"),
        clock,
        services,
        data_dir: tempfile::tempdir().expect("an unused data dir"),
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap(),
        _shutdown: tx,
    }
}

impl TestApp {
    /// The app's services over another store (a wrapper of its own, say: one that
    /// counts calls or fails after some writes), with the same keys, secrets and clock.
    pub fn services_on(
        &self,
        store: std::sync::Arc<dyn tally::ports::Store>,
    ) -> std::sync::Arc<tally::services::Services> {
        let mut adapters = self.services.adapters.clone();
        adapters.store = store;
        tally::services::Services::new(adapters, (*self.services.config).clone())
    }

    pub async fn request(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        self.request_from(&self.client, method, path, token, body)
            .await
    }

    /// The same request from another client (e.g. one bound to another loopback address).
    pub async fn request_from(
        &self,
        client: &reqwest::Client,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> Response {
        let mut req = client.request(method, format!("{}{}", self.address, path));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        if let Some(body) = body {
            req = req.json(&body);
        }
        req.send().await.expect("the request is sent")
    }

    /// A GET carrying a `Cookie` header, as a browser that holds that cookie sends it.
    pub async fn get_with_cookie(&self, path: &str, cookie: Option<&str>) -> Response {
        let mut req = self.client.get(format!("{}{}", self.address, path));
        if let Some(cookie) = cookie {
            req = req.header("cookie", cookie);
        }
        req.send().await.expect("the request is sent")
    }

    /// A POST with a raw JSON-typed body (for malformed JSON).
    pub async fn client_request(&self, path: &str, raw_body: &str) -> Response {
        self.client
            .post(format!("{}{}", self.address, path))
            .header("content-type", "application/json")
            .body(raw_body.to_owned())
            .send()
            .await
            .expect("the request is sent")
    }

    /// A client whose connections come from `ip` (any 127.0.0.0/8 address works on Linux).
    pub fn client_from(ip: IpAddr) -> reqwest::Client {
        reqwest::Client::builder()
            .local_address(ip)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
    }

    /// Invites a user with `role` as `admin_token`'s admin, accepts, signs in.
    pub async fn user_with_role(&self, admin_token: &str, role: &str) -> (TestUser, String) {
        let email = format!("{role}-{}@example.com", uuid::Uuid::new_v4().simple());
        let response = self
            .post(
                "/v1/users",
                Some(admin_token),
                json!({ "email": email, "role": role }),
            )
            .await;
        assert_eq!(response.status(), 201, "invite");
        let invite: Value = response.json().await.unwrap();
        let token = invite["invite_token"].as_str().unwrap();
        let accepted = self
            .post(
                "/v1/invites/accept",
                None,
                json!({ "token": token, "password": GOOD_PASSWORD }),
            )
            .await;
        assert_eq!(accepted.status(), 201, "accept");
        let user = TestUser {
            email,
            password: GOOD_PASSWORD.to_owned(),
            tenant_id: String::new(),
            user_id: invite["id"].as_str().unwrap().to_owned(),
        };
        let session = self.login(&user).await;
        (user, session)
    }

    pub async fn patch(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PATCH, path, Some(token), Some(body))
            .await
    }

    pub async fn put(&self, path: &str, token: &str, body: Value) -> Response {
        self.request(Method::PUT, path, Some(token), Some(body))
            .await
    }

    pub async fn get(&self, path: &str, token: &str) -> Response {
        self.request(Method::GET, path, Some(token), None).await
    }

    pub async fn post(&self, path: &str, token: Option<&str>, body: Value) -> Response {
        self.request(Method::POST, path, token, Some(body)).await
    }

    pub async fn delete(&self, path: &str, token: &str) -> Response {
        self.request(Method::DELETE, path, Some(token), None).await
    }

    /// `POST /v1/integrations` with the fake Stripe's restricted key, which must answer
    /// 201: the new integration's id.
    pub async fn connect_fake_stripe(&self, token: &str) -> String {
        let body =
            json!({ "provider": "stripe", "api_key": tally_tests::fake_stripe::FAKE_API_KEY });
        let response = self.post("/v1/integrations", Some(token), body).await;
        assert_eq!(response.status(), 201, "POST /v1/integrations");
        let created: Value = response.json().await.expect("a JSON body");
        created["id"].as_str().expect("an id").to_owned()
    }

    /// Syncs one integration of `user`'s tenant now, as the ingest function would.
    pub async fn sync_now(&self, user: &TestUser, integration: &str) {
        let tenant = TenantId::parse(&user.tenant_id).expect("a tenant id");
        let integration = IntegrationId::parse(integration).expect("an integration id");
        self.services
            .ingestion
            .sync_integration(&tenant, &integration)
            .await
            .expect("the sync succeeds");
    }

    pub async fn signup(&self) -> TestUser {
        self.signup_as(
            &format!("owner-{}@example.com", uuid::Uuid::new_v4().simple()),
            "Acme GmbH",
        )
        .await
    }

    pub async fn signup_as(&self, email: &str, company: &str) -> TestUser {
        let body = json!({ "company": company, "email": email, "password": GOOD_PASSWORD });
        let response = self.post("/v1/signup", None, body).await;
        assert_eq!(response.status(), 201, "sign-up");
        let reply: Value = response.json().await.unwrap();
        let tenant_id = reply["tenant_id"].as_str().unwrap().to_owned();
        // The address is proven as by the mailed token (tests/api/auth/verification.rs
        // walks that over HTTP); on moto the mail goes to EventBridge, out of reach.
        self.services
            .identity
            .mark_email_verified(&TenantId::parse(&tenant_id).unwrap())
            .await
            .expect("the sign-up's address is proven");
        TestUser {
            email: email.to_owned(),
            password: GOOD_PASSWORD.to_owned(),
            tenant_id,
            user_id: reply["user_id"].as_str().unwrap().to_owned(),
        }
    }

    pub async fn try_login(&self, email: &str, password: &str) -> Response {
        self.post(
            "/v1/sessions",
            None,
            json!({ "email": email, "password": password }),
        )
        .await
    }

    /// Signs in and returns the bearer token.
    pub async fn login(&self, user: &TestUser) -> String {
        let response = self.try_login(&user.email, &user.password).await;
        assert_eq!(response.status(), 201, "sign-in");
        let reply: Value = response.json().await.unwrap();
        reply["token"].as_str().unwrap().to_owned()
    }

    /// Every event the app published, from `<data-dir>/events.jsonl`.
    pub fn events(&self) -> Vec<Value> {
        let path = self.data_dir.path().join("data").join("events.jsonl");
        std::fs::read_to_string(path)
            .unwrap_or_default()
            .lines()
            .map(|line| serde_json::from_str(line).expect("an event line is JSON"))
            .collect()
    }

    pub fn events_of(&self, event_type: &str) -> Vec<Value> {
        self.events()
            .into_iter()
            .filter(|e| e["type"] == event_type)
            .collect()
    }

    /// All bytes of the data directory's files, concatenated (for "never stored" checks).
    pub fn raw_data(&self) -> Vec<u8> {
        self.raw_files(|_| true)
    }

    /// The same without `events.jsonl`, the local mailbox: a mail to an address holds
    /// the address (the sign-up's verification mail, a reset mail).
    pub fn raw_stored_data(&self) -> Vec<u8> {
        self.raw_files(|path| !path.ends_with("events.jsonl"))
    }

    fn raw_files(&self, keep: impl Fn(&std::path::Path) -> bool) -> Vec<u8> {
        let mut all = Vec::new();
        let dir = self.data_dir.path().join("data");
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_file() && keep(&path) {
                all.extend(std::fs::read(path).unwrap());
            }
        }
        all
    }
}

/// The `name=value` of a reply's `Set-Cookie` whose name starts with `prefix`.
pub fn cookie_pair(response: &Response, prefix: &str) -> Option<String> {
    response
        .headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|v| v.starts_with(prefix))
        .and_then(|v| v.split(';').next())
        .map(str::to_owned)
}

/// Whether `needle` occurs in `haystack`.
pub fn contains_bytes(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// The error code of an error reply.
pub async fn error_code(response: Response) -> String {
    let body: Value = response.json().await.expect("an error body is JSON");
    body["error"]["code"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Another tenant with one of each thing a route can name by id: its admin and a
/// viewer (both signed in), a session, an allowlist entry, a demo integration and an
/// export. For isolation checks: another tenant's ids must be as unknown as made-up ones.
pub struct TenantB {
    pub admin: TestUser,
    pub token: String,
    pub viewer: TestUser,
    pub viewer_token: String,
    pub session_id: String,
    pub entry_id: String,
    pub integration_id: String,
    pub export_id: String,
}

pub async fn tenant_b(app: &TestApp) -> TenantB {
    let admin = app.signup_as("b-admin@example.com", "Tenant B").await;
    let token = app.login(&admin).await;
    let (viewer, viewer_token) = app.user_with_role(&token, "viewer").await;
    let sessions: Value = app
        .get("/v1/me/sessions", &token)
        .await
        .json()
        .await
        .unwrap();
    let entry: Value = app
        .post(
            "/v1/security/ip-allowlist",
            Some(&token),
            json!({ "cidr": "127.0.0.0/8", "note": "b" }),
        )
        .await
        .json()
        .await
        .unwrap();
    let demo = app
        .services
        .integrations
        .connect_demo(
            &tally::domain::ids::TenantId::parse(&admin.tenant_id).unwrap(),
            7,
        )
        .await
        .unwrap();
    let export: Value = app
        .post("/v1/exports", Some(&token), json!({}))
        .await
        .json()
        .await
        .unwrap();
    TenantB {
        export_id: export["id"].as_str().unwrap().to_owned(),
        integration_id: demo.to_string(),
        admin,
        token,
        viewer,
        viewer_token,
        session_id: sessions["data"][0]["id"].as_str().unwrap().to_owned(),
        entry_id: entry["id"].as_str().unwrap().to_owned(),
    }
}

/// The `ingest` Lambda's contexts, built as that function builds them, on the app's
/// adapters.
pub fn ingest_workers(app: &TestApp) -> tally::services::jobs::Workers {
    tally::lambda::ingest_workers(&app.services.adapters, (*app.services.config).clone())
}

/// The registered entity a stored key is an item of (exactly one).
pub fn entity_of(key: &tally::ports::Key) -> tally::repos::registry::Entity {
    use tally::repos::registry::{ENTITIES, Entity};
    let matching: Vec<Entity> = ENTITIES
        .into_iter()
        .filter(|e| e.reparse(key).as_ref() == Some(key))
        .collect();
    assert_eq!(matching.len(), 1, "{key:?} is an item of {matching:?}");
    matching[0]
}
