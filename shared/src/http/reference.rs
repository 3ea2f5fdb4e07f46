//! `GET /docs`: a plain HTML reference of the API, rendered here from the OpenAPI
//! document: the operations by tag with their parameters, bodies and responses, then
//! every schema with its fields and constraints.
//!
//! No script at all and no asset from elsewhere: Tally is security-first, and a page
//! that loads a CDN's JavaScript trusts that CDN with whatever the browser holds. The
//! only style is inline, allowed by its hash in the page's Content-Security-Policy.

use std::fmt::Write;

use axum::http::HeaderValue;
use base64::Engine;
use serde_json::Value;
use sha2::{Digest, Sha256};

const STYLE: &str = "body{font:15px/1.5 system-ui,sans-serif;max-width:72rem;margin:2rem auto;\
padding:0 1rem;color:#1d1d1f}h2{border-bottom:1px solid #ccc;margin-top:2.5rem}\
h3{margin:1.5rem 0 .25rem}code{background:#f3f3f3;padding:0 .2em}\
table{border-collapse:collapse;margin:.25rem 0 .75rem}td,th{border:1px solid #ddd;\
padding:.2rem .5rem;text-align:left;vertical-align:top}.m{font-weight:bold;\
text-transform:uppercase}.pub{color:#a15c00}pre{white-space:pre-wrap}";

/// Only the page's own inline style; nothing else may load or run.
pub fn content_security_policy() -> HeaderValue {
    let hash = base64::engine::general_purpose::STANDARD.encode(Sha256::digest(STYLE));
    let policy = format!(
        "default-src 'none'; style-src 'sha256-{hash}'; base-uri 'none'; \
         form-action 'none'; frame-ancestors 'none'"
    );
    HeaderValue::from_str(&policy)
        .unwrap_or_else(|_| HeaderValue::from_static("default-src 'none'"))
}

/// Text made safe for HTML, with `code` spans for backquoted words.
fn text(raw: &str) -> String {
    let escaped = raw
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;");
    let mut out = String::new();
    for (i, part) in escaped.split('`').enumerate() {
        if i % 2 == 1 {
            let _ = write!(out, "<code>{part}</code>");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn str_of<'a>(value: &'a Value, key: &str) -> &'a str {
    value.get(key).and_then(Value::as_str).unwrap_or_default()
}

/// A schema in one line: a link for a reference, else its type and constraints.
fn schema_line(schema: &Value) -> String {
    if let Some(target) = schema.get("$ref").and_then(Value::as_str) {
        let name = target.rsplit('/').next().unwrap_or(target);
        return format!("<a href=\"#schema-{0}\">{0}</a>", text(name));
    }
    for combinator in ["oneOf", "anyOf", "allOf"] {
        if let Some(items) = schema.get(combinator).and_then(Value::as_array) {
            let parts: Vec<String> = items.iter().map(schema_line).collect();
            let joiner = if combinator == "allOf" {
                " and "
            } else {
                " or "
            };
            return parts.join(joiner);
        }
    }
    let mut line = match schema.get("type") {
        Some(Value::Array(types)) => types
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" | "),
        Some(Value::String(kind)) => kind.clone(),
        _ => "any".to_owned(),
    };
    if let Some(items) = schema.get("items") {
        line = format!("array of {}", schema_line(items));
    }
    if let Some(Value::Object(extra)) = schema.get("additionalProperties") {
        line = format!("map of {}", schema_line(&Value::Object(extra.clone())));
    }
    let keywords = [
        "format",
        "enum",
        "pattern",
        "minimum",
        "maximum",
        "exclusiveMinimum",
        "minLength",
        "maxLength",
        "minItems",
        "maxItems",
        "default",
    ];
    for keyword in keywords {
        if let Some(value) = schema.get(keyword) {
            let _ = write!(line, "; {keyword} {}", text(&value.to_string()));
        }
    }
    line
}

fn parameters(out: &mut String, operation: &Value) {
    let Some(params) = operation.get("parameters").and_then(Value::as_array) else {
        return;
    };
    out.push_str(
        "<table><tr><th>parameter</th><th>in</th><th>schema</th><th>description</th></tr>",
    );
    for p in params {
        let required = if p.get("required") == Some(&Value::Bool(true)) {
            " (required)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{required}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            text(str_of(p, "name")),
            text(str_of(p, "in")),
            p.get("schema").map(schema_line).unwrap_or_default(),
            text(str_of(p, "description")),
        );
    }
    out.push_str("</table>");
}

fn body_schema(holder: &Value) -> String {
    holder
        .get("content")
        .and_then(|c| c.get("application/json"))
        .and_then(|c| c.get("schema"))
        .map(schema_line)
        .unwrap_or_default()
}

fn operation(out: &mut String, method: &str, path: &str, op: &Value, components: &Value) {
    let public = op
        .get("security")
        .and_then(Value::as_array)
        .is_some_and(|s| {
            s.is_empty()
                || s.iter()
                    .any(|r| r.as_object().is_some_and(|o| o.is_empty()))
        });
    let _ = write!(
        out,
        "<h3 id=\"op-{}\"><span class=\"m\">{method}</span> <code>{}</code></h3><p><b>{}</b>{}</p>",
        text(str_of(op, "operationId")),
        text(path),
        text(str_of(op, "summary")),
        if public {
            " <span class=\"pub\">(no session needed)</span>"
        } else {
            ""
        },
    );
    let description = str_of(op, "description");
    if !description.is_empty() {
        let _ = write!(out, "<pre>{}</pre>", text(description));
    }
    parameters(out, op);
    if let Some(body) = op.get("requestBody") {
        let _ = write!(out, "<p>Body: {}</p>", body_schema(body));
    }
    out.push_str("<table><tr><th>status</th><th>body</th><th>description</th></tr>");
    if let Some(responses) = op.get("responses").and_then(Value::as_object) {
        for (status, response) in responses {
            // A shared response is a reference into the components: follow it.
            let response = match response.get("$ref").and_then(Value::as_str) {
                Some(target) => {
                    let name = target.rsplit('/').next().unwrap_or(target);
                    components
                        .pointer(&format!("/responses/{name}"))
                        .unwrap_or(response)
                }
                None => response,
            };
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                text(status),
                body_schema(response),
                text(str_of(response, "description")),
            );
        }
    }
    out.push_str("</table>");
}

fn schema(out: &mut String, name: &str, schema: &Value) {
    let _ = write!(out, "<h3 id=\"schema-{0}\">{0}</h3>", text(name));
    let description = str_of(schema, "description");
    if !description.is_empty() {
        let _ = write!(out, "<p>{}</p>", text(description));
    }
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        let _ = write!(out, "<p>{}</p>", schema_line(schema));
        return;
    };
    let required: Vec<&str> = schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| r.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    out.push_str("<table><tr><th>field</th><th>schema</th><th>description</th></tr>");
    for (field, property) in properties {
        let mark = if required.contains(&field.as_str()) {
            " (required)"
        } else {
            ""
        };
        let _ = write!(
            out,
            "<tr><td><code>{}</code>{mark}</td><td>{}</td><td>{}</td></tr>",
            text(field),
            schema_line(property),
            text(str_of(property, "description")),
        );
    }
    out.push_str("</table>");
}

/// The whole page for a document (the JSON form of `openapi::document()`).
pub fn page(doc: &Value) -> String {
    let info = doc.get("info").cloned().unwrap_or_default();
    let components = doc.get("components").cloned().unwrap_or_default();
    let mut out = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{} API \
         reference</title><style>{STYLE}</style></head><body><h1>{} API {}</h1><pre>{}</pre>\
         <p>The machine-readable document: <a href=\"/openapi.json\">/openapi.json</a>.</p>",
        text(str_of(&info, "title")),
        text(str_of(&info, "title")),
        text(str_of(&info, "version")),
        text(str_of(&info, "description")),
    );
    let tags: Vec<&str> = doc
        .get("tags")
        .and_then(Value::as_array)
        .map(|t| t.iter().map(|tag| str_of(tag, "name")).collect())
        .unwrap_or_default();
    let paths = doc.get("paths").and_then(Value::as_object);
    for tag in tags {
        let _ = write!(out, "<h2 id=\"tag-{0}\">{0}</h2>", text(tag));
        for (path, item) in paths.into_iter().flatten() {
            for (method, op) in item.as_object().into_iter().flatten() {
                let tagged = op
                    .get("tags")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|x| x.as_str() == Some(tag)));
                if tagged {
                    operation(&mut out, method, path, op, &components);
                }
            }
        }
    }
    out.push_str("<h2 id=\"schemas\">Schemas</h2>");
    if let Some(schemas) = components.get("schemas").and_then(Value::as_object) {
        for (name, value) in schemas {
            schema(&mut out, name, value);
        }
    }
    out.push_str("</body></html>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_escaped_before_code_spans_are_made() {
        assert_eq!(
            text("`<script>` & \"x\""),
            "<code>&lt;script&gt;</code> &amp; &quot;x&quot;"
        );
    }

    #[test]
    fn the_page_lists_every_operation_and_schema_and_loads_nothing() {
        let doc = serde_json::to_value(crate::http::openapi::document()).unwrap();
        let html = page(&doc);
        let operations = doc["paths"]
            .as_object()
            .unwrap()
            .values()
            .flat_map(|item| item.as_object().unwrap().values())
            .count();
        assert_eq!(html.matches("<h3 id=\"op-").count(), operations);
        for name in doc["components"]["schemas"].as_object().unwrap().keys() {
            assert!(html.contains(&format!("id=\"schema-{name}\"")), "{name}");
        }
        for forbidden in ["<script", "src=", "<link"] {
            assert!(!html.contains(forbidden), "{forbidden}");
        }
        assert!(
            content_security_policy()
                .to_str()
                .unwrap()
                .contains("default-src 'none'")
        );
    }
}
