//! The writes of a transaction, and what its cancellation means.

use aws_sdk_dynamodb::error::SdkError;
use aws_sdk_dynamodb::operation::transact_write_items::TransactWriteItemsError;
use aws_sdk_dynamodb::types::{ConditionCheck, Delete, Put, TransactWriteItem};

use super::backend;
use super::expressions::{Expr, condition_expr, item_map, key_map};
use crate::ports::store::{StoreError, WriteOp};

/// One write of a transaction; `None` for a check that always holds (DynamoDB's
/// ConditionCheck demands an expression).
pub(super) fn transact_item(
    table: &str,
    op: &WriteOp,
) -> Result<Option<TransactWriteItem>, StoreError> {
    let build_error = |_| StoreError::Invalid("transaction write could not be built".into());
    let write = match op {
        WriteOp::Put { item, condition } => {
            let expr = condition_expr(*condition);
            let put = Put::builder()
                .table_name(table)
                .set_item(Some(item_map(item)))
                .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
                .set_expression_attribute_names(expr.as_ref().and_then(Expr::names))
                .set_expression_attribute_values(expr.as_ref().and_then(Expr::values))
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().put(put).build()
        }
        WriteOp::Delete { key, condition } => {
            let expr = condition_expr(*condition);
            let delete = Delete::builder()
                .table_name(table)
                .set_key(Some(key_map(key)))
                .set_condition_expression(expr.as_ref().map(|e| e.text.clone()))
                .set_expression_attribute_names(expr.as_ref().and_then(Expr::names))
                .set_expression_attribute_values(expr.as_ref().and_then(Expr::values))
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().delete(delete).build()
        }
        WriteOp::Check { key, condition } => {
            let Some(expr) = condition_expr(*condition) else {
                return Ok(None);
            };
            let check = ConditionCheck::builder()
                .table_name(table)
                .set_key(Some(key_map(key)))
                .condition_expression(&expr.text)
                .set_expression_attribute_names(expr.names())
                .set_expression_attribute_values(expr.values())
                .build()
                .map_err(build_error)?;
            TransactWriteItem::builder().condition_check(check).build()
        }
    };
    Ok(Some(write))
}

/// A cancelled transaction is a failed condition when any write's reason says so;
/// other cancellations (conflicts, throttling) are backend failures the caller may retry.
pub(super) fn transaction_error<R>(err: &SdkError<TransactWriteItemsError, R>) -> StoreError {
    if let Some(TransactWriteItemsError::TransactionCanceledException(cancelled)) =
        err.as_service_error()
        && cancelled
            .cancellation_reasons()
            .iter()
            .any(|r| r.code() == Some("ConditionalCheckFailed"))
    {
        return StoreError::ConditionFailed;
    }
    backend("TransactWriteItems", err)
}
