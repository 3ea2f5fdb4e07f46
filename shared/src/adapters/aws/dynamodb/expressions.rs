//! Items as DynamoDB attribute maps, and the expressions the store sends.
//!
//! Every expression carries exactly the names and values its text uses: DynamoDB
//! refuses unused ones (moto does not, so tests would not catch a slip), and refuses an
//! empty map where a map is given at all — hence `Option`s that are `None` when empty.
//! Attribute names always go through `#placeholders`, so a DynamoDB reserved word can
//! never break an expression.

use std::collections::{BTreeMap, HashMap};

use aws_sdk_dynamodb::primitives::Blob;
use aws_sdk_dynamodb::types::AttributeValue;

use crate::ports::store::{Attr, Condition, Item, Key, SortKeys, StoreError};

/// An expression's text with the names and values it uses.
#[derive(Clone, Debug, Default)]
pub(super) struct Expr {
    pub text: String,
    names: HashMap<String, String>,
    values: HashMap<String, AttributeValue>,
}

impl Expr {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            ..Self::default()
        }
    }
    pub fn and(mut self, text: &str) -> Self {
        self.text.push_str(" AND ");
        self.text.push_str(text);
        self
    }
    pub fn append(mut self, text: &str) -> Self {
        self.text.push_str(text);
        self
    }
    pub fn name(mut self, placeholder: &str, name: &str) -> Self {
        self.names.insert(placeholder.to_owned(), name.to_owned());
        self
    }
    pub fn value(mut self, placeholder: &str, value: AttributeValue) -> Self {
        self.values.insert(placeholder.to_owned(), value);
        self
    }
    pub fn names(&self) -> Option<HashMap<String, String>> {
        (!self.names.is_empty()).then(|| self.names.clone())
    }
    pub fn values(&self) -> Option<HashMap<String, AttributeValue>> {
        (!self.values.is_empty()).then(|| self.values.clone())
    }
}

/// The condition expression of a write, or `None` for an unconditional one.
pub(super) fn condition_expr(condition: Condition) -> Option<Expr> {
    match condition {
        Condition::None => None,
        Condition::Absent => Some(Expr::new("attribute_not_exists(#pk)").name("#pk", "pk")),
        Condition::Exists => Some(Expr::new("attribute_exists(#pk)").name("#pk", "pk")),
        Condition::VersionIs(v) => Some(
            Expr::new("#version = :version")
                .name("#version", "version")
                .value(":version", number(v)),
        ),
    }
}

/// The key condition of a query, or `None` when no sort key can match (DynamoDB would
/// refuse such a query rather than return nothing).
pub(super) fn key_condition(pk: &str, sort: &SortKeys) -> Option<Expr> {
    let expr = Expr::new("#pk = :pk")
        .name("#pk", "pk")
        .value(":pk", AttributeValue::S(pk.to_owned()));
    // Sort keys are never empty, and DynamoDB refuses empty key values in conditions:
    // an empty prefix selects everything, an empty lower bound nothing below.
    let expr = match sort {
        SortKeys::All => expr,
        SortKeys::Prefix(p) if p.is_empty() => expr,
        SortKeys::Prefix(p) => expr
            .and("begins_with(#sk, :prefix)")
            .name("#sk", "sk")
            .value(":prefix", AttributeValue::S(p.clone())),
        SortKeys::Between { from, to } if to.is_empty() || from > to => return None,
        SortKeys::Between { from, to } if from.is_empty() => expr
            .and("#sk <= :to")
            .name("#sk", "sk")
            .value(":to", AttributeValue::S(to.clone())),
        SortKeys::Between { from, to } => expr
            .and("#sk BETWEEN :from AND :to")
            .name("#sk", "sk")
            .value(":from", AttributeValue::S(from.clone()))
            .value(":to", AttributeValue::S(to.clone())),
    };
    Some(expr)
}

pub(super) fn number(n: impl ToString) -> AttributeValue {
    AttributeValue::N(n.to_string())
}

pub(super) fn key_map(key: &Key) -> HashMap<String, AttributeValue> {
    HashMap::from([
        ("pk".to_owned(), AttributeValue::S(key.pk.clone())),
        ("sk".to_owned(), AttributeValue::S(key.sk.clone())),
    ])
}

pub(super) fn item_map(item: &Item) -> HashMap<String, AttributeValue> {
    let mut map = key_map(&item.key);
    map.insert("version".to_owned(), number(item.version));
    for (name, attr) in &item.attrs {
        let value = match attr {
            Attr::S(s) => AttributeValue::S(s.clone()),
            Attr::N(n) => number(n),
            Attr::B(b) => AttributeValue::B(Blob::new(b.clone())),
        };
        map.insert(name.clone(), value);
    }
    map
}

/// Reads an item back. Errors name the attribute, never its value.
pub(super) fn item_from_map(mut map: HashMap<String, AttributeValue>) -> Result<Item, StoreError> {
    let pk = take_string(&mut map, "pk")?;
    let sk = take_string(&mut map, "sk")?;
    let version = match map.remove("version") {
        Some(AttributeValue::N(n)) => n.parse::<u64>().map_err(|_| malformed("version"))?,
        _ => return Err(malformed("version")),
    };
    let mut attrs = BTreeMap::new();
    for (name, value) in map {
        let attr = match value {
            AttributeValue::S(s) => Attr::S(s),
            AttributeValue::N(n) => Attr::N(n.parse().map_err(|_| malformed(&name))?),
            AttributeValue::B(b) => Attr::B(b.into_inner()),
            _ => return Err(malformed(&name)),
        };
        attrs.insert(name, attr);
    }
    Ok(Item {
        key: Key { pk, sk },
        version,
        attrs,
    })
}

/// The integer value of a numeric attribute in an `UpdateItem` result.
pub(super) fn integer(
    map: &HashMap<String, AttributeValue>,
    name: &str,
) -> Result<i64, StoreError> {
    match map.get(name) {
        Some(AttributeValue::N(n)) => n.parse().map_err(|_| malformed(name)),
        _ => Err(malformed(name)),
    }
}

fn take_string(
    map: &mut HashMap<String, AttributeValue>,
    name: &str,
) -> Result<String, StoreError> {
    match map.remove(name) {
        Some(AttributeValue::S(s)) => Ok(s),
        _ => Err(malformed(name)),
    }
}

fn malformed(name: &str) -> StoreError {
    StoreError::Backend(format!(
        "stored attribute {name:?} is missing or of an unexpected type"
    ))
}
