//! The JSON body extractor. Unlike axum's `Json`, its errors are in the API's shape and
//! never echo the client's values back (serde's messages quote them: a password sent
//! where a number was expected would land in the reply). Bodies over 64 KiB are 413.

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};
use axum::http::{StatusCode, header};
use serde::de::DeserializeOwned;

use super::error::ApiError;

/// The most bytes a request body may have.
pub const BODY_LIMIT: usize = 64 * 1024;

/// A JSON request body of type `T`.
pub struct ApiJson<T>(pub T);

impl<S, T> FromRequest<S> for ApiJson<T>
where
    S: Send + Sync,
    T: DeserializeOwned,
{
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(req.headers()) {
            return Err(ApiError::UnsupportedMediaType);
        }
        let bytes = Bytes::from_request(req, state).await.map_err(|rejection| {
            if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                ApiError::PayloadTooLarge
            } else {
                ApiError::invalid_request("The request body could not be read.")
            }
        })?;
        parse(&bytes).map(ApiJson)
    }
}

fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let mime = value
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    mime == "application/json" || (mime.starts_with("application/") && mime.ends_with("+json"))
}

/// Parses a body, naming the offending field in the error but never its value.
/// Every request body of the API is a JSON object: an array or a scalar is refused here
/// (serde would otherwise read an array into a struct's fields by position).
pub fn parse<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, ApiError> {
    let first = bytes
        .iter()
        .find(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r'));
    if first.is_some_and(|b| *b != b'{') {
        return Err(ApiError::invalid_request("The body must be a JSON object."));
    }
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value: T = serde_path_to_error::deserialize(&mut de).map_err(describe)?;
    de.end()
        .map_err(|_| ApiError::invalid_request("The body has data after the JSON value."))?;
    Ok(value)
}

fn describe(err: serde_path_to_error::Error<serde_json::Error>) -> ApiError {
    let path = err.path().to_string();
    let inner = err.inner();
    if inner.is_syntax() || inner.is_eof() {
        return ApiError::invalid_request(format!(
            "The body is not valid JSON (line {}, column {}).",
            inner.line(),
            inner.column()
        ));
    }
    let text = inner.to_string();
    // serde's own wording, reduced to the parts that come from our types.
    if let Some(rest) = text.strip_prefix("missing field `") {
        let name = rest.split('`').next().unwrap_or_default();
        let field = if path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        };
        return ApiError::invalid_field(&field, format!("Field `{field}` is required."));
    }
    let field = if path == "." { "body".to_owned() } else { path };
    let expected = text
        .rfind(", expected ")
        .map(|i| text[i + ", expected ".len()..].to_owned())
        .map(|e| e.split(" at line ").next().unwrap_or_default().to_owned());
    let message = match expected {
        Some(e) if !e.is_empty() => format!("Field `{field}` is invalid: expected {e}."),
        _ => format!("Field `{field}` has a wrong type or value."),
    };
    ApiError::invalid_field(&field, message)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::response::IntoResponse;

    #[derive(serde::Deserialize, Debug)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
        limit: Option<u32>,
    }

    fn error_body(err: ApiError) -> (StatusCode, serde_json::Value) {
        let response = err.into_response();
        let status = response.status();
        let body = futures_body(response);
        (status, body)
    }

    fn futures_body(response: axum::response::Response) -> serde_json::Value {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        rt.block_on(async {
            let bytes = axum::body::to_bytes(response.into_body(), 1 << 20)
                .await
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        })
    }

    #[test]
    fn a_missing_field_is_named() {
        let err = parse::<Login>(br#"{"email":"a@b.c"}"#).unwrap_err();
        let (status, body) = error_body(err);
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(body["error"]["code"], "invalid_request");
        assert_eq!(body["error"]["details"]["field"], "password");
    }

    #[test]
    fn a_wrongly_typed_value_is_named_but_not_echoed() {
        let err = parse::<Login>(br#"{"email":"a@b.c","password":"x","limit":"Hunter2-secret"}"#)
            .unwrap_err();
        let (_, body) = error_body(err);
        let text = body.to_string();
        assert_eq!(body["error"]["details"]["field"], "limit");
        assert!(!text.contains("Hunter2-secret"), "{text}");
        let err = parse::<Login>(br#"{"email":"a@b.c","password":12345678}"#).unwrap_err();
        let (_, body) = error_body(err);
        assert!(!body.to_string().contains("12345678"));
    }

    #[test]
    fn malformed_and_trailing_json_are_invalid_requests() {
        for body in [&b"{"[..], b"not json", b"{\"email\":1,}", b"{} {}", b""] {
            let (status, value) = error_body(parse::<Login>(body).unwrap_err());
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(value["error"]["code"], "invalid_request");
        }
    }

    #[test]
    fn deeply_nested_json_is_refused_without_overflow() {
        let deep = "[".repeat(100_000);
        assert!(parse::<serde_json::Value>(deep.as_bytes()).is_err());
        let deep_object = "{\"a\":".repeat(100_000);
        assert!(parse::<serde_json::Value>(deep_object.as_bytes()).is_err());
    }

    #[derive(Debug, serde::Deserialize)]
    #[allow(dead_code)]
    struct Patch {
        role: Option<String>,
        disabled: Option<bool>,
    }

    #[test]
    fn only_an_object_is_a_body() {
        // serde reads a struct from an array by position: `[null, null]` would be an
        // empty patch, accepted. Every body of the API is an object.
        for body in [
            &b"[null, null]"[..],
            b" [\"admin\", true]",
            b"null",
            b"42",
            b"\"x\"",
        ] {
            let (status, value) = error_body(parse::<Patch>(body).unwrap_err());
            assert_eq!(status, StatusCode::BAD_REQUEST);
            assert_eq!(value["error"]["code"], "invalid_request");
        }
        assert!(parse::<Patch>(b" \n{\"role\": \"viewer\"}").is_ok());
    }
}
