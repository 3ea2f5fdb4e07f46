//! Coupons inlined into the discounts that name them, before parsing.
//!
//! A coupon's `applies_to` and `currency_options` come only when expanded, and
//! Stripe's expansions stop at four levels: `data.discounts.source.coupon` is already
//! four from a subscription listing, and item discounts' coupons
//! (`data.items.data.discounts.source.coupon`) are six. So the listings expand the
//! discounts themselves (within the limit) and every distinct coupon is read once,
//! by id, with `expand[]=applies_to&expand[]=currency_options`, then put in place
//! at `source.coupon` of each discount that uses it. A discount that names only a
//! promotion code resolves through the code (`GET /v1/promotion_codes/{id}`: its
//! `promotion.coupon`).

use std::collections::HashMap;
use std::sync::Mutex;

use serde_json::{Map, Value};

use super::client::{StripeClient, StripeError};
use super::references::checked_id;
use crate::domain::billing::ObjectKind;
use crate::ports::ConnectorError;

/// Coupons (as Stripe returned them, expansions included) by id, for one connector.
#[derive(Debug, Default)]
pub(super) struct CouponCache {
    known: Mutex<HashMap<String, Option<Value>>>,
}

/// What a discount names its coupon by.
enum CouponRef {
    Coupon(String),
    PromotionCode(String),
}

fn reference_id(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(id) => Some(id.clone()),
        Value::Object(object) => object.get("id")?.as_str().map(str::to_owned),
        _ => None,
    }
}

fn coupon_ref(discount: &Value) -> Option<CouponRef> {
    let from_source = reference_id(discount.pointer("/source/coupon"));
    let legacy = reference_id(discount.get("coupon"));
    if let Some(id) = from_source.or(legacy) {
        return Some(CouponRef::Coupon(id));
    }
    reference_id(discount.get("promotion_code")).map(CouponRef::PromotionCode)
}

/// JSON pointers to the discounts of an object of `kind`.
fn discount_pointers(kind: ObjectKind, object: &Value) -> Vec<String> {
    let count = |pointer: &str| {
        object
            .pointer(pointer)
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    match kind {
        ObjectKind::Customer => vec!["/discount".to_owned()],
        ObjectKind::Subscription => {
            let mut pointers: Vec<String> = (0..count("/discounts"))
                .map(|i| format!("/discounts/{i}"))
                .collect();
            for item in 0..count("/items/data") {
                let base = format!("/items/data/{item}/discounts");
                pointers.extend((0..count(&base)).map(|i| format!("{base}/{i}")));
            }
            pointers
        }
        _ => Vec::new(),
    }
}

impl CouponCache {
    fn known(&self) -> std::sync::MutexGuard<'_, HashMap<String, Option<Value>>> {
        // A panic elsewhere while holding the lock leaves a usable map.
        self.known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The coupon with its expansions; `None` when Stripe no longer has it.
    async fn coupon(
        &self,
        client: &StripeClient,
        id: &str,
    ) -> Result<Option<Value>, ConnectorError> {
        if let Some(known) = self.known().get(id) {
            return Ok(known.clone());
        }
        let path = format!("/v1/coupons/{}", checked_id(id)?);
        let params = [("expand[]", "applies_to"), ("expand[]", "currency_options")];
        let coupon = match client.get(&path, &params).await {
            Ok(value) => Some(value),
            Err(StripeError::NotFound { .. }) => None,
            Err(other) => return Err(other.into()),
        };
        self.known().insert(id.to_owned(), coupon.clone());
        Ok(coupon)
    }

    async fn promotion_coupon(
        &self,
        client: &StripeClient,
        code: &str,
    ) -> Result<Option<String>, ConnectorError> {
        let path = format!("/v1/promotion_codes/{}", checked_id(code)?);
        match client.get(&path, &[]).await {
            Ok(value) => Ok(reference_id(value.pointer("/promotion/coupon"))
                .or_else(|| reference_id(value.get("coupon")))),
            Err(StripeError::NotFound { .. }) => Ok(None),
            Err(other) => Err(other.into()),
        }
    }

    /// Puts the full coupon at `source.coupon` of every discount of `object`. A
    /// discount whose coupon cannot be found is left as it is (parsing then reports
    /// it as unexpanded rather than guessing its terms).
    pub(super) async fn inline(
        &self,
        client: &StripeClient,
        kind: ObjectKind,
        object: &mut Value,
    ) -> Result<(), ConnectorError> {
        for pointer in discount_pointers(kind, object) {
            let Some(reference) = object.pointer(&pointer).and_then(coupon_ref) else {
                continue;
            };
            let id = match reference {
                CouponRef::Coupon(id) => Some(id),
                CouponRef::PromotionCode(code) => self.promotion_coupon(client, &code).await?,
            };
            let coupon = match id {
                Some(id) => self.coupon(client, &id).await?,
                None => None,
            };
            let Some(coupon) = coupon else {
                continue;
            };
            let Some(discount) = object.pointer_mut(&pointer).and_then(Value::as_object_mut) else {
                continue;
            };
            let source = discount
                .entry("source")
                .or_insert_with(|| Value::Object(Map::new()));
            if !source.is_object() {
                *source = Value::Object(Map::new());
            }
            if let Some(source) = source.as_object_mut() {
                source.insert("coupon".to_owned(), coupon);
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn reference(discount: Value) -> Option<String> {
        match coupon_ref(&discount)? {
            CouponRef::Coupon(id) => Some(format!("coupon {id}")),
            CouponRef::PromotionCode(id) => Some(format!("code {id}")),
        }
    }

    #[test]
    fn a_discount_names_its_coupon_else_its_promotion_code() {
        let source = json!({"source": {"coupon": "co_1"}, "promotion_code": "promo_1"});
        assert_eq!(reference(source).as_deref(), Some("coupon co_1"));
        let expanded = json!({"source": {"coupon": {"id": "co_2", "percent_off": 5.0}}});
        assert_eq!(reference(expanded).as_deref(), Some("coupon co_2"));
        let legacy = json!({"coupon": {"id": "co_3"}});
        assert_eq!(reference(legacy).as_deref(), Some("coupon co_3"));
        let code_only = json!({"source": {"coupon": null}, "promotion_code": "promo_4"});
        assert_eq!(reference(code_only).as_deref(), Some("code promo_4"));
        assert_eq!(reference(json!({"source": {"coupon": 7}})), None);
    }

    #[test]
    fn discounts_are_found_at_every_level() {
        let sub = json!({
            "discounts": [{}, {}],
            "items": {"data": [{"discounts": [{}]}, {"discounts": []}, {}]}
        });
        assert_eq!(
            discount_pointers(ObjectKind::Subscription, &sub),
            ["/discounts/0", "/discounts/1", "/items/data/0/discounts/0"]
        );
        assert_eq!(
            discount_pointers(ObjectKind::Customer, &json!({})),
            ["/discount"]
        );
        assert!(discount_pointers(ObjectKind::Invoice, &sub).is_empty());
    }
}
