//! The European Central Bank's reference-rates file over HTTPS: a public document, no
//! credential. Bounded in time and size; an error names what went wrong, never the
//! body (it could be anything a proxy or a captive portal answers).

use std::time::Duration;

/// The largest file accepted: the daily file is ~1.5 KB, the 90-day one ~120 KB.
pub const MAX_BYTES: usize = 8 * 1024 * 1024;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EcbFetchError {
    #[error("the ECB rates could not be fetched: {0}")]
    Transport(&'static str),
    #[error("the ECB rates server answered HTTP {0}")]
    Status(u16),
    #[error("the ECB rates file is larger than {MAX_BYTES} bytes")]
    TooLarge,
    #[error("the ECB rates file is not UTF-8 text")]
    NotText,
}

/// A client for the ECB: short timeouts (the job runs daily and can wait for the next
/// day), a few redirects allowed (the request carries nothing to leak).
pub fn http_client() -> Result<reqwest::Client, EcbFetchError> {
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .timeout(Duration::from_secs(30))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("tally/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|_| EcbFetchError::Transport("the HTTP client could not be built"))
}

/// GETs `url` and returns its body as text.
pub async fn fetch_text(client: &reqwest::Client, url: &str) -> Result<String, EcbFetchError> {
    let transport = |err: reqwest::Error| {
        EcbFetchError::Transport(crate::adapters::stripe::client::transport_failure(&err))
    };
    let mut response = client.get(url).send().await.map_err(transport)?;
    if !response.status().is_success() {
        return Err(EcbFetchError::Status(response.status().as_u16()));
    }
    if response
        .content_length()
        .is_some_and(|n| n > MAX_BYTES as u64)
    {
        return Err(EcbFetchError::TooLarge);
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(transport)? {
        if body.len() + chunk.len() > MAX_BYTES {
            return Err(EcbFetchError::TooLarge);
        }
        body.extend_from_slice(&chunk);
    }
    String::from_utf8(body).map_err(|_| EcbFetchError::NotText)
}
