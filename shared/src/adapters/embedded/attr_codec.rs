//! How [`SqliteStore`](super::SqliteStore) stores an item's attributes: one TEXT
//! column holding a JSON object of one-key objects —
//! `{"status":{"S":"on"},"n":{"N":3},"data":{"B":"<base64>"}}` — self-describing,
//! readable with `sqlite3`, and free of any schema migration when attributes change.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::ports::{Attr, StoreError};

/// One attribute as stored; binary values as standard base64.
#[derive(serde::Serialize, serde::Deserialize)]
enum StoredAttr {
    S(String),
    N(i64),
    B(String),
}

pub(super) fn encode_attrs(attrs: &BTreeMap<String, Attr>) -> Result<String, StoreError> {
    let stored: BTreeMap<&str, StoredAttr> = attrs
        .iter()
        .map(|(name, value)| {
            let value = match value {
                Attr::S(s) => StoredAttr::S(s.clone()),
                Attr::N(n) => StoredAttr::N(*n),
                Attr::B(b) => StoredAttr::B(STANDARD.encode(b)),
            };
            (name.as_str(), value)
        })
        .collect();
    serde_json::to_string(&stored)
        .map_err(|_| StoreError::Backend("an item's attributes do not encode".into()))
}

pub(super) fn decode_attrs(text: &str) -> Result<BTreeMap<String, Attr>, StoreError> {
    // serde_json's messages may quote the input: replaced by a fixed one.
    let corrupt = || StoreError::Backend("a stored item's attributes do not decode".into());
    let stored: BTreeMap<String, StoredAttr> = serde_json::from_str(text).map_err(|_| corrupt())?;
    stored
        .into_iter()
        .map(|(name, value)| {
            let value = match value {
                StoredAttr::S(s) => Attr::S(s),
                StoredAttr::N(n) => Attr::N(n),
                StoredAttr::B(b) => Attr::B(STANDARD.decode(b).map_err(|_| corrupt())?),
            };
            Ok((name, value))
        })
        .collect()
}
