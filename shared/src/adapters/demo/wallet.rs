//! Customers' payment methods: cards (brand, funding, expiry, issuing country) and
//! SEPA direct debits, added when a customer starts paying or replaces a card, and
//! refreshed in place by an issuer's account updater.

use crate::domain::billing::{CardFacts, PaymentMethodRecord};

use super::calendar::{add_months, card_expires_at, year_month};
use super::catalogue::{CARD_BRANDS, CARD_FUNDING};
use super::generate::{CustomerState, Generator, IdKind};

/// A payment method in a customer's wallet.
pub(super) struct Method {
    pub(super) id: String,
    /// Its record in `out.payment_methods` (a card updater edits the expiry in place).
    pub(super) record: usize,
    pub(super) card: Option<CardFacts>,
    /// The first second the card no longer works; `None` for direct debit.
    pub(super) expires_at: Option<i64>,
}

impl Generator {
    /// Makes sure the customer has a working default payment method at `at`, adding
    /// one (created at `at`) when they have none or it has expired.
    pub(super) fn ensure_method(&mut self, customer: &mut CustomerState, at: i64) {
        let usable = customer
            .default_method
            .and_then(|index| customer.methods.get(index))
            .is_some_and(|method| method.expires_at.is_none_or(|expiry| expiry > at));
        if !usable {
            self.add_method(customer, at);
        }
    }

    /// A new payment method, created at `at`, that becomes the customer's default.
    pub(super) fn add_method(&mut self, customer: &mut CustomerState, at: i64) {
        let id = self.new_id(IdKind::PaymentMethod);
        let (method_type, card) = if customer.pays_by_sepa {
            ("sepa_debit", None)
        } else {
            ("card", Some(self.new_card(customer.card_country, at)))
        };
        let expires_at = card.as_ref().map(card_expiry);
        self.out.payment_methods.push(PaymentMethodRecord {
            id: id.clone(),
            customer: Some(customer.id.clone()),
            method_type: method_type.to_owned(),
            card: card.clone(),
            created: at,
        });
        customer.methods.push(Method {
            id,
            record: self.out.payment_methods.len() - 1,
            card,
            expires_at,
        });
        customer.default_method = Some(customer.methods.len() - 1);
    }

    /// A card added at `at`: valid for another 1 to 60 months.
    fn new_card(&mut self, country: Option<&'static str>, at: i64) -> CardFacts {
        let brand = self.dice.weighted(&CARD_BRANDS).copied().unwrap_or("visa");
        let funding = if brand == "amex" {
            "credit"
        } else {
            self.dice
                .weighted(&CARD_FUNDING)
                .copied()
                .unwrap_or("credit")
        };
        let months = self.dice.between(1, 60);
        let (exp_year, exp_month) = year_month(add_months(at, months));
        CardFacts {
            brand: Some(brand.to_owned()),
            funding: Some(funding.to_owned()),
            exp_month: Some(exp_month),
            exp_year: u32::try_from(exp_year).ok(),
            country: country.map(str::to_owned),
        }
    }

    /// The issuer's account updater gave the expiring card of the default method a new
    /// expiry (three or four years on): same payment method, new facts.
    pub(super) fn update_card_in_place(&mut self, customer: &mut CustomerState) {
        let Some(method) = customer
            .default_method
            .and_then(|index| customer.methods.get_mut(index))
        else {
            return;
        };
        let Some(card) = method.card.as_mut() else {
            return;
        };
        let years = self.dice.count(3, 4) as u32;
        card.exp_year = card.exp_year.map(|year| year + years);
        method.expires_at = Some(card_expiry(card));
        if let Some(record) = self.out.payment_methods.get_mut(method.record) {
            record.card = Some(card.clone());
        }
        self.out.events.cards_updated_in_place += 1;
    }
}

/// When a card stops working (never, if its expiry is unknown).
pub(super) fn card_expiry(card: &CardFacts) -> i64 {
    match (card.exp_year, card.exp_month) {
        (Some(year), Some(month)) => card_expires_at(year, month),
        _ => i64::MAX,
    }
}

impl CustomerState {
    /// The payment method invoices are charged to.
    pub(super) fn default_payment_method(&self) -> Option<&Method> {
        self.default_method
            .and_then(|index| self.methods.get(index))
    }
}
