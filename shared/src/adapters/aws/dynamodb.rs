//! The Store port on one DynamoDB table: string keys `pk` (HASH) and `sk` (RANGE), a
//! numeric `version`, and each plain attribute under its own name as S, N or B.
//!
//! Reads are strongly consistent (a conditional write's caller reads its own write);
//! a query reads one partition only, never a Scan (the template denies Scan to the
//! request-serving roles). Conditions and failures map onto the port like this:
//! `ConditionalCheckFailedException`, or a cancelled transaction whose reasons include
//! `ConditionalCheckFailed`, is [`StoreError::ConditionFailed`]; everything else is
//! [`StoreError::Backend`] with the error code and message only.
//!
//! Bulk writes (`batch_put`, `batch_delete`) go through `BatchWriteItem`, a bounded
//! number of requests in parallel, unprocessed writes retried with backoff: see
//! `batches`.

mod batches;
mod expressions;
mod transactions;

use async_trait::async_trait;
use aws_sdk_dynamodb::Client;
use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::types::{AttributeValue, ReturnValue};

pub use self::batches::BatchRetry;
use self::batches::{delete_requests, put_requests, write_all};
use self::expressions::{
    Expr, condition_expr, integer, item_from_map, item_map, key_condition, key_map, number,
};
use self::transactions::{transact_item, transaction_error};
use super::{describe, error_code};
use crate::ports::store::{
    Attr, Condition, Cursor, Item, Key, Page, Query, Store, StoreError, WriteOp, validate_item,
    validate_key, validate_transaction,
};

/// The Store on one DynamoDB table.
#[derive(Clone, Debug)]
pub struct DynamoStore {
    client: Client,
    table: String,
    batch_retry: BatchRetry,
}

impl DynamoStore {
    pub fn new(client: Client, table: &str) -> Self {
        Self {
            client,
            table: table.to_owned(),
            batch_retry: BatchRetry::default(),
        }
    }

    /// How batch writes retry their unprocessed writes (tests shorten the waits).
    pub fn with_batch_retry(mut self, retry: BatchRetry) -> Self {
        self.batch_retry = retry;
        self
    }
}

/// Any SDK failure of a single-item write: a failed condition, or the backend's.
fn write_error<E, R>(op: &str, err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    if error_code(err) == Some("ConditionalCheckFailedException") {
        StoreError::ConditionFailed
    } else {
        backend(op, err)
    }
}

fn backend<E, R>(op: &str, err: &SdkError<E, R>) -> StoreError
where
    E: ProvideErrorMetadata,
{
    StoreError::Backend(format!("DynamoDB {op}: {}", describe(err)))
}

/// DynamoDB refuses empty key values with a validation error; the port calls this a
/// request error, not a backend failure.
fn check_key(key: &Key) -> Result<(), StoreError> {
    validate_key(key)
}

#[async_trait]
impl Store for DynamoStore {
    fn table_name(&self) -> &str {
        &self.table
    }

    async fn get(&self, key: &Key) -> Result<Option<Item>, StoreError> {
        check_key(key)?;
        let out = self
            .client
            .get_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| backend("GetItem", &e))?;
        out.item.map(item_from_map).transpose()
    }

    async fn put(&self, item: Item, condition: Condition) -> Result<(), StoreError> {
        validate_item(&item)?;
        let expr = condition_expr(condition);
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item_map(&item)))
            .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
            .set_expression_attribute_names(expr.as_ref().and_then(Expr::names))
            .set_expression_attribute_values(expr.as_ref().and_then(Expr::values))
            .send()
            .await
            .map_err(|e| write_error("PutItem", &e))?;
        Ok(())
    }

    async fn delete(&self, key: &Key, condition: Condition) -> Result<(), StoreError> {
        check_key(key)?;
        let expr = condition_expr(condition);
        self.client
            .delete_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
            .set_expression_attribute_names(expr.as_ref().and_then(Expr::names))
            .set_expression_attribute_values(expr.as_ref().and_then(Expr::values))
            .send()
            .await
            .map_err(|e| write_error("DeleteItem", &e))?;
        Ok(())
    }

    async fn query(&self, query: Query) -> Result<Page, StoreError> {
        if query.pk.is_empty() {
            return Err(StoreError::Invalid("empty partition key".into()));
        }
        if let Some(cursor) = &query.cursor {
            cursor.check(&query.sort)?;
        }
        let Some(condition) = key_condition(&query.pk, &query.sort) else {
            return Ok(Page::default());
        };
        let limit = query.effective_limit();
        // One item more than asked tells whether a next page exists, so `next_cursor`
        // is `Some` exactly when more items match.
        let wanted = limit + 1;
        let request = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression(&condition.text)
            .set_expression_attribute_names(condition.names())
            .set_expression_attribute_values(condition.values())
            .scan_index_forward(!query.reverse)
            .consistent_read(true);
        let mut start = query
            .cursor
            .as_ref()
            .map(|c| key_map(&Key::new(query.pk.as_str(), c.last_sort_key())));
        let mut items = Vec::with_capacity(wanted.min(128));
        // A page stops at 1 MB whatever the limit: follow LastEvaluatedKey until
        // enough items are in hand or the partition is exhausted.
        loop {
            let remaining = i32::try_from(wanted - items.len()).unwrap_or(i32::MAX);
            let out = request
                .clone()
                .limit(remaining)
                .set_exclusive_start_key(start.take())
                .send()
                .await
                .map_err(|e| backend("Query", &e))?;
            for raw in out.items.unwrap_or_default() {
                items.push(item_from_map(raw)?);
            }
            match out.last_evaluated_key {
                Some(last) if items.len() < wanted => start = Some(last),
                _ => break,
            }
        }
        let next_cursor = if items.len() > limit {
            items.truncate(limit);
            items
                .last()
                .map(|item| Cursor::after_sort_key(item.key.sk.as_str()))
        } else {
            None
        };
        Ok(Page { items, next_cursor })
    }

    async fn increment(
        &self,
        key: &Key,
        attr: &str,
        by: i64,
        expires_at: Option<i64>,
    ) -> Result<i64, StoreError> {
        // The same checks as a put of the counter: a valid key and attribute name.
        validate_item(&Item::new(key.clone()).with(attr, Attr::N(0)))?;
        // ADD treats a missing attribute (or item) as 0 and is atomic on the server.
        let mut update = Expr::new("ADD #attr :by SET #version = if_not_exists(#version, :one)")
            .name("#attr", attr)
            .name("#version", "version")
            .value(":by", number(by))
            .value(":one", number(1));
        if let Some(at) = expires_at {
            update = update
                .append(", #expires_at = :expires_at")
                .name("#expires_at", "expires_at")
                .value(":expires_at", number(at));
        }
        // Without a condition DynamoDB answers a non-numeric attribute with a generic
        // ValidationException, indistinguishable from other malformed requests. The
        // condition shares the update's names and values (one map per request).
        let update = update.value(":number", AttributeValue::S("N".to_owned()));
        let numeric = "attribute_not_exists(#attr) OR attribute_type(#attr, :number)";
        let out = self
            .client
            .update_item()
            .table_name(&self.table)
            .set_key(Some(key_map(key)))
            .update_expression(&update.text)
            .condition_expression(numeric)
            .set_expression_attribute_names(update.names())
            .set_expression_attribute_values(update.values())
            .return_values(ReturnValue::UpdatedNew)
            .send()
            .await
            .map_err(|e| match write_error("UpdateItem", &e) {
                StoreError::ConditionFailed => {
                    StoreError::Invalid(format!("attribute {attr:?} is not numeric"))
                }
                other => other,
            })?;
        integer(&out.attributes.unwrap_or_default(), attr)
    }

    async fn transact(&self, ops: Vec<WriteOp>) -> Result<(), StoreError> {
        validate_transaction(&ops)?;
        let mut writes = Vec::with_capacity(ops.len());
        for op in &ops {
            check_key(op.key())?;
            if let Some(write) = transact_item(&self.table, op)? {
                writes.push(write);
            }
        }
        if writes.is_empty() {
            // Only unconditional checks: they hold by definition.
            return Ok(());
        }
        // No explicit ClientRequestToken: the SDK fills in DynamoDB's idempotency token
        // once per call, before the request is built, so each retry of this call resends
        // it and DynamoDB does not apply a retried transaction twice (the wire shows it:
        // tests/api/conformance/retries.rs).
        self.client
            .transact_write_items()
            .set_transact_items(Some(writes))
            .send()
            .await
            .map_err(|e| transaction_error(&e))?;
        Ok(())
    }

    /// Every item is checked before the first request, so an invalid item writes
    /// nothing; a failure after that (throttling beyond the retries, unprocessed writes
    /// beyond [`BatchRetry::attempts`]) may leave some batches written.
    async fn batch_put(&self, items: Vec<Item>) -> Result<(), StoreError> {
        for item in &items {
            validate_item(item)?;
        }
        let requests = put_requests(items)?;
        write_all(&self.client, &self.table, requests, self.batch_retry).await
    }

    async fn batch_delete(&self, keys: Vec<Key>) -> Result<(), StoreError> {
        for key in &keys {
            check_key(key)?;
        }
        let requests = delete_requests(keys)?;
        write_all(&self.client, &self.table, requests, self.batch_retry).await
    }

    /// The table's TTL on `expires_at` (infra/template.yaml) deletes expired items;
    /// nothing is left for a request-serving role to do (and it may not Scan).
    async fn purge_expired(&self, _now: i64) -> Result<u64, StoreError> {
        Ok(0)
    }
}
