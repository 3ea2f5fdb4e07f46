//! Every kind of item Tally stores, in one list: where it lives, how long it is kept,
//! and its place in the sweep, in tenant closure and in the tenant export.
//!
//! The sweep, closure and export enumerate kinds of items from here (and match on them
//! exhaustively), so a new entity is added in one place and cannot be forgotten by one
//! of them; the tests below walk the list.

use chrono::{DateTime, NaiveDate, Utc};

use crate::domain::billing::ObjectKind;
use crate::domain::ids::{
    EntryId, ExportId, GrantId, IntegrationId, OperatorId, SessionId, TenantId, UserId,
};
use crate::ports::Key;
use crate::repos::EntityKey;
use crate::repos::analytics::{ProfileKey, SnapshotChunkKey, SnapshotPartKey, SnapshotPointerKey};
use crate::repos::billing::{BillingRecordKey, integration_prefix};
use crate::repos::digests::{DigestKey, SlackSettingKey};
use crate::repos::emails::{EmailLookupKey, FailedLoginsKey};
use crate::repos::erasure::Selection;
use crate::repos::exports::{ExportKey, ExportPageKey, ExportRateKey};
use crate::repos::fx::{EcbDayKey, FxRatesKey, ReportingCurrencyKey};
use crate::repos::imports::{ImportItem, ImportKey};
use crate::repos::integrations::{
    IntegrationIndexKey, IntegrationKey, StripeAccountKey, SyncStateKey,
};
use crate::repos::operators::{
    OperatorEmailKey, OperatorFailsKey, OperatorKey, OperatorSessionKey,
};
use crate::repos::security::{AllowEntryKey, AuditKey, LoginAttemptKey, RateCounterKey};
use crate::repos::segments::SegmentsKey;
use crate::repos::sessions::{SessionKey, SessionRefKey};
use crate::repos::support::GrantKey;
use crate::repos::tenancy::{ClosedListingKey, ReceiptKey};
use crate::repos::tenants::TenantKey;
use crate::repos::tokens::{TokenKey, TokenKind};
use crate::repos::users::UserKey;
use crate::repos::vault::DataKeyKey;
use crate::repos::webhooks::WebhookSeenKey;

/// A kind of stored item.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Entity {
    Tenant,
    DataKey,
    User,
    EmailLookup,
    FailedLogins,
    Session,
    SessionRef,
    Token(TokenKind),
    LoginAttempt,
    AuditEntry,
    AllowEntry,
    RateCounter,
    Integration,
    IntegrationIndex,
    StripeAccount,
    SyncState,
    BillingRecord(ObjectKind),
    CustomerProfile,
    SnapshotPointer,
    SnapshotChunk,
    SnapshotPart,
    FxRates,
    ReportingCurrency,
    CustomSegments,
    Export,
    ExportPage,
    ExportRate,
    ClosedListing,
    ErasureReceipt,
    WebhookSeen,
    EcbDay,
    Operator,
    OperatorEmail,
    OperatorFails,
    OperatorSession,
    SupportGrant,
    Digest,
    SlackSetting,
    ImportPlan,
    ImportLog,
}

/// Every entity.
pub const ENTITIES: [Entity; 49] = [
    Entity::Tenant,
    Entity::DataKey,
    Entity::User,
    Entity::EmailLookup,
    Entity::FailedLogins,
    Entity::Session,
    Entity::SessionRef,
    Entity::Token(TokenKind::Reset),
    Entity::Token(TokenKind::Change),
    Entity::Token(TokenKind::Invite),
    Entity::Token(TokenKind::OAuthState),
    Entity::Token(TokenKind::Verify),
    Entity::LoginAttempt,
    Entity::AuditEntry,
    Entity::AllowEntry,
    Entity::RateCounter,
    Entity::Integration,
    Entity::IntegrationIndex,
    Entity::StripeAccount,
    Entity::SyncState,
    Entity::BillingRecord(ObjectKind::Customer),
    Entity::BillingRecord(ObjectKind::PaymentMethod),
    Entity::BillingRecord(ObjectKind::Subscription),
    Entity::BillingRecord(ObjectKind::Invoice),
    Entity::BillingRecord(ObjectKind::Charge),
    Entity::BillingRecord(ObjectKind::Refund),
    Entity::CustomerProfile,
    Entity::SnapshotPointer,
    Entity::SnapshotChunk,
    Entity::SnapshotPart,
    Entity::FxRates,
    Entity::ReportingCurrency,
    Entity::CustomSegments,
    Entity::Export,
    Entity::ExportPage,
    Entity::ExportRate,
    Entity::ClosedListing,
    Entity::ErasureReceipt,
    Entity::WebhookSeen,
    Entity::EcbDay,
    Entity::Operator,
    Entity::OperatorEmail,
    Entity::OperatorFails,
    Entity::OperatorSession,
    Entity::SupportGrant,
    Entity::Digest,
    Entity::SlackSetting,
    Entity::ImportPlan,
    Entity::ImportLog,
];

/// Whose partition an entity lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// The tenant's own partition `TENANT#<id>`.
    Tenant,
    /// A partition of its own, found without knowing the tenant.
    Global,
}

/// How long an item is kept.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Retention {
    /// Until a use case, the sweep or closure deletes it.
    Kept,
    /// It carries `expires_at`: the store's TTL (or the sweep) deletes it after this.
    Expires(&'static str),
}

/// An entity's place in the sweep of a disconnected integration.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Sweep {
    /// The integration's data: deleted first.
    IntegrationData,
    /// What leads to the integration (its item and schedule entry): deleted last, so an
    /// interrupted sweep finds it again.
    IntegrationEntry,
    /// Not per integration.
    NotPerIntegration,
}

/// What a closure reads of a tenant to find the global items that point at it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Via {
    /// Each user's e-mail (its keyed hash).
    UserEmail,
    /// Each session's token hash (from its tenant-side mirror).
    SessionToken,
    /// Each integration (its id and processor account).
    Integration,
}

/// What a closure finds, from which global items pointing at the tenant are known.
pub enum Found<'a> {
    EmailHash(&'a str),
    TokenHash(&'a str),
    Integration {
        tenant: &'a TenantId,
        id: &'a IntegrationId,
        account: Option<&'a str>,
    },
}

impl Found<'_> {
    fn via(&self) -> Via {
        match self {
            Found::EmailHash(_) => Via::UserEmail,
            Found::TokenHash(_) => Via::SessionToken,
            Found::Integration { .. } => Via::Integration,
        }
    }
}

/// An entity's place in tenant closure.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Closure {
    /// In the tenant's partition: unreadable once the key is shredded, then erased with
    /// the partition by the sweep.
    ErasedWithPartition,
    /// The tenant's data key: deleted last by closure (crypto-shredding).
    Shredded,
    /// A global item pointing at the tenant, found through `Via`, deleted by closure.
    Removed(Via),
    /// The listing that leads the sweep to the closed tenant: removed when the erasure
    /// is done.
    Listing,
    /// Points at a tenant but expires within minutes or days; closure cannot find it.
    ExpiresSoon(&'static str),
    /// Kept, for this reason.
    KeptBecause(&'static str),
    /// About no tenant.
    NoTenant,
}

/// The sections of the export document, in document order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Section {
    Tenant,
    Users,
    Integrations,
    AuditLog,
    Customers,
    Subscriptions,
    Invoices,
    Payments,
    Refunds,
    PaymentMethods,
}

impl Section {
    pub fn name(self) -> &'static str {
        match self {
            Section::Tenant => "tenant",
            Section::Users => "users",
            Section::Integrations => "integrations",
            Section::AuditLog => "audit_log",
            Section::Customers => "customers",
            Section::Subscriptions => "subscriptions",
            Section::Invoices => "invoices",
            Section::Payments => "payments",
            Section::Refunds => "refunds",
            Section::PaymentMethods => "payment_methods",
        }
    }
}

/// An entity's place in the tenant export.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Export {
    Section(Section),
    /// Not exported, for this reason.
    Omitted(&'static str),
}

/// One row of the registry.
#[derive(Clone, Copy, Debug)]
pub struct Spec {
    pub name: &'static str,
    pub scope: Scope,
    /// The key's shape: `<partition key> / <sort key>`.
    pub key: &'static str,
    pub retention: Retention,
    pub sweep: Sweep,
    pub closure: Closure,
    pub export: Export,
}

const SECURITY: &str = "security bookkeeping, not the tenant's business data";
const DERIVED: &str = "derived from exported records";
const STAFF: &str = "staff accounts, about no tenant";
const IMPORTED: &str =
    "the Import API's source rows: exported as the subscriptions and invoices built from them";

impl Entity {
    /// The registry row. Kept as a table, one entity to a line.
    #[rustfmt::skip]
    pub fn spec(self) -> Spec {
        use Closure::*;
        use Export::*;
        use Retention::*;
        use Scope::*;
        use Sweep::*;
        let row = |name, scope, key, retention, sweep, closure, export| Spec {
            name,
            scope,
            key,
            retention,
            sweep,
            closure,
            export,
        };
        // name, scope, key, retention, sweep, closure, export
        match self {
            Entity::Tenant => row("tenant", Tenant, "TENANT#<tenant> / TENANT", Kept, NotPerIntegration, ErasedWithPartition, Section(self::Section::Tenant)),
            Entity::DataKey => row("data_key", Tenant, "TENANT#<tenant> / KEY", Kept, NotPerIntegration, Shredded, Omitted("a wrapped key, never exported")),
            Entity::User => row("user", Tenant, "TENANT#<tenant> / USER#<user>", Kept, NotPerIntegration, ErasedWithPartition, Section(self::Section::Users)),
            Entity::EmailLookup => row("email_lookup", Global, "EMAIL#<email hmac> / USER", Kept, NotPerIntegration, Removed(Via::UserEmail), Omitted("a pointer to a user")),
            Entity::FailedLogins => row("failed_logins", Global, "EMAIL#<email hmac> / FAILS", Expires("30 days for an e-mail without an account; else until reset"), NotPerIntegration, Removed(Via::UserEmail), Omitted(SECURITY)),
            Entity::Session => row("session", Global, "SESSION#<token sha256> / SESSION", Expires("the session's absolute timeout"), NotPerIntegration, Removed(Via::SessionToken), Omitted(SECURITY)),
            Entity::SessionRef => row("session_ref", Tenant, "TENANT#<tenant> / SESSIONREF#<user>#<session>", Expires("the session's absolute timeout"), NotPerIntegration, ErasedWithPartition, Omitted(SECURITY)),
            Entity::Token(TokenKind::Reset) => row("reset_token", Global, "RESET#<token sha256> / RESET", Expires("30 minutes"), NotPerIntegration, ExpiresSoon("30 minutes; useless once the user is gone"), Omitted(SECURITY)),
            Entity::Token(TokenKind::Change) => row("change_token", Global, "CHANGE#<token sha256> / CHANGE", Expires("10 minutes"), NotPerIntegration, ExpiresSoon("10 minutes; useless once the user is gone"), Omitted(SECURITY)),
            Entity::Token(TokenKind::Invite) => row("invite_token", Global, "INVITE#<token sha256> / INVITE", Expires("7 days"), NotPerIntegration, ExpiresSoon("7 days; useless once the user is gone"), Omitted(SECURITY)),
            Entity::Token(TokenKind::Verify) => row("verify_token", Global, "VERIFY#<token sha256> / VERIFY", Expires("7 days"), NotPerIntegration, ExpiresSoon("7 days; useless once the user is gone"), Omitted(SECURITY)),
            Entity::Token(TokenKind::OAuthState) => row("oauth_state", Global, "STATE#<token sha256> / STATE", Expires("10 minutes"), NotPerIntegration, ExpiresSoon("10 minutes; useless once the user is gone"), Omitted(SECURITY)),
            Entity::LoginAttempt => row("login_attempt", Tenant, "TENANT#<tenant> / LOGIN#<time>#<id>", Expires("90 days"), NotPerIntegration, ErasedWithPartition, Omitted(SECURITY)),
            Entity::AuditEntry => row("audit_entry", Tenant, "TENANT#<tenant> / AUDIT#<time>#<id>", Expires("400 days"), NotPerIntegration, ErasedWithPartition, Section(self::Section::AuditLog)),
            Entity::AllowEntry => row("allow_entry", Tenant, "TENANT#<tenant> / ALLOW#<entry>", Kept, NotPerIntegration, ErasedWithPartition, Omitted(SECURITY)),
            Entity::RateCounter => row("rate_counter", Global, "RATE#<bucket>#<address hmac> / <minute>", Expires("2 minutes"), NotPerIntegration, NoTenant, Omitted(SECURITY)),
            Entity::Integration => row("integration", Tenant, "TENANT#<tenant> / INTEG#<integration>", Kept, IntegrationEntry, ErasedWithPartition, Section(self::Section::Integrations)),
            Entity::IntegrationIndex => row("integration_index", Global, "INTEGRATIONS / <tenant>#<integration>", Kept, IntegrationEntry, Removed(Via::Integration), Omitted("a schedule entry of plain ids")),
            Entity::StripeAccount => row("stripe_account", Global, "STRIPEACCT#<account> / INTEGRATION", Kept, NotPerIntegration, Removed(Via::Integration), Omitted("a pointer to an integration")),
            Entity::SyncState => row("sync_state", Tenant, "TENANT#<tenant> / SYNC#<integration>", Kept, IntegrationData, ErasedWithPartition, Omitted("sync positions, not data")),
            Entity::BillingRecord(kind) => {
                let (name, key, section) = match kind {
                    ObjectKind::Customer => ("customer", "TENANT#<tenant> / CUST#<integration>#<id>", self::Section::Customers),
                    ObjectKind::PaymentMethod => ("payment_method", "TENANT#<tenant>[#S<shard>] / PM#<integration>#<id>", self::Section::PaymentMethods),
                    ObjectKind::Subscription => ("subscription", "TENANT#<tenant>[#S<shard>] / SUB#<integration>#<id>", self::Section::Subscriptions),
                    ObjectKind::Invoice => ("invoice", "TENANT#<tenant>[#S<shard>] / INV#<integration>#<id>", self::Section::Invoices),
                    ObjectKind::Charge => ("charge", "TENANT#<tenant>[#S<shard>] / CHG#<integration>#<id>", self::Section::Payments),
                    ObjectKind::Refund => ("refund", "TENANT#<tenant>[#S<shard>] / REF#<integration>#<id>", self::Section::Refunds),
                };
                row(name, Tenant, key, Kept, IntegrationData, ErasedWithPartition, Section(section))
            }
            Entity::CustomerProfile => row("customer_profile", Tenant, "TENANT#<tenant>[#S<shard>] / PROFILE#<integration>#<customer>", Kept, IntegrationData, ErasedWithPartition, Omitted(DERIVED)),
            Entity::SnapshotPointer => row("snapshot_pointer", Tenant, "TENANT#<tenant> / ANALYTICS", Kept, NotPerIntegration, ErasedWithPartition, Omitted(DERIVED)),
            Entity::SnapshotChunk => row("snapshot_chunk", Tenant, "TENANT#<tenant> / ANALYTICS#<version>#<index>", Kept, NotPerIntegration, ErasedWithPartition, Omitted("derived from exported records (exported as metrics_summary)")),
            Entity::SnapshotPart => row("snapshot_part", Tenant, "TENANT#<tenant>[#S<shard>] / ANALYTICS#PART#<keyed hash>", Kept, NotPerIntegration, ErasedWithPartition, Omitted("derived from exported records (exported as metrics_summary)")),
            Entity::FxRates => row("fx_rates", Tenant, "TENANT#<tenant> / FXRATES", Kept, NotPerIntegration, ErasedWithPartition, Omitted("a setting, readable through the API")),
            Entity::ReportingCurrency => row("reporting_currency", Tenant, "TENANT#<tenant> / SETTINGS#REPORTING_CURRENCY", Kept, NotPerIntegration, ErasedWithPartition, Omitted("a setting, readable through the API")),
            Entity::CustomSegments => row("custom_segments", Tenant, "TENANT#<tenant> / SEGMENTS", Kept, NotPerIntegration, ErasedWithPartition, Omitted("a setting, readable through the API")),
            Entity::Export => row("export", Tenant, "TENANT#<tenant> / EXPORT#<export>", Expires("7 days"), NotPerIntegration, ErasedWithPartition, Omitted("the export itself")),
            Entity::ExportPage => row("export_page", Tenant, "TENANT#<tenant> / EXPORT#<export>#PAGE#<page>", Expires("7 days"), NotPerIntegration, ErasedWithPartition, Omitted("the export itself")),
            Entity::ExportRate => row("export_rate", Tenant, "TENANT#<tenant> / EXPORTRATE", Expires("60 seconds"), NotPerIntegration, ErasedWithPartition, Omitted(SECURITY)),
            Entity::ClosedListing => row("closed_listing", Global, "CLOSED / <tenant>", Kept, NotPerIntegration, Listing, Omitted("exists only after closure")),
            Entity::ErasureReceipt => row("erasure_receipt", Global, "DELETED#<tenant sha256> / RECEIPT", Kept, NotPerIntegration, KeptBecause("the proof of erasure; holds a hash of the id, never the id"), Omitted("exists only after closure")),
            Entity::WebhookSeen => row("webhook_seen", Global, "WEBHOOK#<event> / SEEN", Expires("4 days"), NotPerIntegration, NoTenant, Omitted("about no tenant")),
            Entity::EcbDay => row("ecb_day", Global, "FXRATES#ECB / DAY#<date>", Kept, NotPerIntegration, NoTenant, Omitted("public reference rates")),
            Entity::Operator => row("operator", Global, "OPERATOR#<operator> / OPERATOR", Kept, NotPerIntegration, NoTenant, Omitted(STAFF)),
            Entity::OperatorEmail => row("operator_email", Global, "OPEMAIL#<email hmac> / OPERATOR", Kept, NotPerIntegration, NoTenant, Omitted(STAFF)),
            Entity::OperatorFails => row("operator_fails", Global, "OPEMAIL#<email hmac> / FAILS", Expires("30 days for an e-mail without an operator; else until a sign-in succeeds"), NotPerIntegration, NoTenant, Omitted(STAFF)),
            Entity::OperatorSession => row("operator_session", Global, "OPSESSION#<token sha256> / SESSION", Expires("the session's absolute timeout"), NotPerIntegration, NoTenant, Omitted(STAFF)),
            Entity::SupportGrant => row("support_grant", Tenant, "TENANT#<tenant> / GRANT#<operator>#<grant>", Expires("when the grant ends: 72 hours at most (4 for break-glass)"), NotPerIntegration, ErasedWithPartition, Omitted("each grant, revocation and read is in the exported audit log")),
            Entity::Digest => row("digest", Tenant, "TENANT#<tenant> / DIGEST#<week's monday>", Expires("90 days"), NotPerIntegration, ErasedWithPartition, Omitted("bookkeeping of the weekly digest: a week and customer ids")),
            Entity::ImportPlan => row("import_plan", Tenant, "TENANT#<tenant> / IMPPLAN#<integration>#<plan>", Kept, IntegrationData, ErasedWithPartition, Omitted(IMPORTED)),
            Entity::ImportLog => row("import_log", Tenant, "TENANT#<tenant> / IMPSUB#<integration>#<subscription>", Kept, IntegrationData, ErasedWithPartition, Omitted(IMPORTED)),
            Entity::SlackSetting => row("slack_setting", Tenant, "TENANT#<tenant> / SETTINGS#SLACK_WEBHOOK", Kept, NotPerIntegration, ErasedWithPartition, Omitted("a setting, readable through the API (the URL is a secret, never exported)")),
        }
    }

    /// What the sweep deletes of this entity for a disconnected integration (`None` for
    /// an entity that is not per integration).
    pub fn of_integration(self, tenant: &TenantId, id: &IntegrationId) -> Option<Selection> {
        let pk = tenant.partition();
        match self {
            // Customers live in the tenant's own partition; the other kinds and the
            // profiles in any of its shards.
            Entity::BillingRecord(ObjectKind::Customer) => Some(Selection::prefix(
                pk,
                integration_prefix(ObjectKind::Customer, id),
            )),
            Entity::BillingRecord(kind) => {
                Some(Selection::sharded(tenant, integration_prefix(kind, id)))
            }
            Entity::CustomerProfile => Some(Selection::sharded(
                tenant,
                crate::repos::analytics::profiles_prefix(id.as_str()),
            )),
            Entity::SyncState => Some(Selection::key(
                SyncStateKey {
                    tenant: tenant.clone(),
                    integration: id.clone(),
                }
                .key(),
            )),
            Entity::Integration => Some(Selection::key(
                IntegrationKey {
                    tenant: tenant.clone(),
                    integration: id.clone(),
                }
                .key(),
            )),
            Entity::IntegrationIndex => Some(Selection::key(
                IntegrationIndexKey {
                    tenant: tenant.clone(),
                    integration: id.clone(),
                }
                .key(),
            )),
            Entity::ImportPlan => Some(Selection::prefix(
                pk,
                ImportItem::Plan.integration_prefix(id),
            )),
            Entity::ImportLog => Some(Selection::prefix(
                pk,
                ImportItem::Subscription.integration_prefix(id),
            )),
            Entity::Tenant
            | Entity::DataKey
            | Entity::User
            | Entity::EmailLookup
            | Entity::FailedLogins
            | Entity::Session
            | Entity::SessionRef
            | Entity::Token(_)
            | Entity::LoginAttempt
            | Entity::AuditEntry
            | Entity::AllowEntry
            | Entity::RateCounter
            | Entity::StripeAccount
            | Entity::SnapshotPointer
            | Entity::SnapshotChunk
            | Entity::SnapshotPart
            | Entity::FxRates
            | Entity::ReportingCurrency
            | Entity::CustomSegments
            | Entity::Export
            | Entity::ExportPage
            | Entity::ExportRate
            | Entity::ClosedListing
            | Entity::ErasureReceipt
            | Entity::WebhookSeen
            | Entity::EcbDay
            | Entity::Operator
            | Entity::OperatorEmail
            | Entity::OperatorFails
            | Entity::OperatorSession
            | Entity::SupportGrant
            | Entity::Digest
            | Entity::SlackSetting => None,
        }
    }

    /// The global item of this entity that `found` points to, if any.
    pub fn pointed_by(self, found: &Found<'_>) -> Option<Selection> {
        let key = match (self, found) {
            (Entity::EmailLookup, Found::EmailHash(hash)) => EmailLookupKey {
                email_hash: (*hash).to_owned(),
            }
            .key(),
            (Entity::FailedLogins, Found::EmailHash(hash)) => FailedLoginsKey {
                email_hash: (*hash).to_owned(),
            }
            .key(),
            (Entity::Session, Found::TokenHash(hash)) => SessionKey {
                token_hash: (*hash).to_owned(),
            }
            .key(),
            (Entity::IntegrationIndex, Found::Integration { tenant, id, .. }) => {
                IntegrationIndexKey {
                    tenant: (*tenant).clone(),
                    integration: (*id).clone(),
                }
                .key()
            }
            (
                Entity::StripeAccount,
                Found::Integration {
                    account: Some(account),
                    ..
                },
            ) => StripeAccountKey {
                account: (*account).to_owned(),
            }
            .key(),
            _ => return None,
        };
        Some(Selection::key(key))
    }

    /// A key of this entity, for the tests.
    pub fn sample(self) -> Key {
        let tenant = TenantId::parse("0b5e3f6c-8f4e-4f8a-9a57-1d2c3b4a5f60")
            .unwrap_or_else(TenantId::system);
        let sample_id = "5f0c1a2b-3c4d-4e5f-8a9b-0c1d2e3f4a5b";
        let user = UserId::parse(sample_id).unwrap_or_else(UserId::generate);
        let integration = IntegrationId::parse(sample_id).unwrap_or_else(IntegrationId::generate);
        let export = ExportId::parse(sample_id).unwrap_or_else(ExportId::generate);
        let at = DateTime::<Utc>::from_timestamp_millis(1_767_225_600_123).unwrap_or_default();
        let hash = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";
        match self {
            Entity::Tenant => TenantKey { tenant }.key(),
            Entity::DataKey => DataKeyKey { tenant }.key(),
            Entity::User => UserKey { tenant, user }.key(),
            Entity::EmailLookup => EmailLookupKey {
                email_hash: hash.into(),
            }
            .key(),
            Entity::FailedLogins => FailedLoginsKey {
                email_hash: hash.into(),
            }
            .key(),
            Entity::Session => SessionKey {
                token_hash: hash.into(),
            }
            .key(),
            Entity::SessionRef => SessionRefKey {
                tenant,
                user,
                session: SessionId::parse(sample_id).unwrap_or_else(SessionId::generate),
            }
            .key(),
            Entity::Token(kind) => TokenKey {
                kind,
                token_hash: hash.into(),
            }
            .key(),
            Entity::LoginAttempt => LoginAttemptKey {
                tenant,
                at,
                id: "a1b2".into(),
            }
            .key(),
            Entity::AuditEntry => AuditKey {
                tenant,
                at,
                id: "a1b2".into(),
            }
            .key(),
            Entity::AllowEntry => AllowEntryKey {
                tenant,
                entry: EntryId::parse(sample_id).unwrap_or_else(EntryId::generate),
            }
            .key(),
            Entity::RateCounter => RateCounterKey {
                bucket: "auth".into(),
                ip_hash: hash.into(),
                minute: 29_453_760,
            }
            .key(),
            Entity::Integration => IntegrationKey {
                tenant,
                integration,
            }
            .key(),
            Entity::IntegrationIndex => IntegrationIndexKey {
                tenant,
                integration,
            }
            .key(),
            Entity::StripeAccount => StripeAccountKey {
                account: "acct_1A2b3C".into(),
            }
            .key(),
            Entity::SyncState => SyncStateKey {
                tenant,
                integration,
            }
            .key(),
            // The sharded entities' samples lie in a shard partition (customers in
            // the tenant's own).
            Entity::BillingRecord(kind) => BillingRecordKey {
                tenant,
                integration,
                kind,
                id: "obj_1A2b".into(),
                shard: if kind == ObjectKind::Customer { 0 } else { 3 },
            }
            .key(),
            Entity::CustomerProfile => ProfileKey {
                tenant,
                integration: integration.to_string(),
                customer: "cus_1A2b".into(),
                shard: 5,
            }
            .key(),
            Entity::SnapshotPointer => SnapshotPointerKey { tenant }.key(),
            Entity::SnapshotChunk => SnapshotChunkKey {
                tenant,
                version: 1_767_225_600_123_456,
                index: 3,
            }
            .key(),
            Entity::SnapshotPart => SnapshotPartKey {
                tenant,
                part: "0123456789abcdef0123456789abcdef".into(),
                shard: 7,
            }
            .key(),
            Entity::FxRates => FxRatesKey { tenant }.key(),
            Entity::ReportingCurrency => ReportingCurrencyKey { tenant }.key(),
            Entity::CustomSegments => SegmentsKey { tenant }.key(),
            Entity::Export => ExportKey { tenant, export }.key(),
            Entity::ExportPage => ExportPageKey {
                tenant,
                export,
                page: 2,
            }
            .key(),
            Entity::ExportRate => ExportRateKey { tenant }.key(),
            Entity::ClosedListing => ClosedListingKey { tenant }.key(),
            Entity::ErasureReceipt => ReceiptKey::of(&tenant).key(),
            Entity::WebhookSeen => WebhookSeenKey {
                event: "evt_1A2b".into(),
            }
            .key(),
            Entity::EcbDay => EcbDayKey {
                date: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap_or_default(),
            }
            .key(),
            Entity::Operator => OperatorKey {
                operator: OperatorId::parse(sample_id).unwrap_or_else(OperatorId::generate),
            }
            .key(),
            Entity::OperatorEmail => OperatorEmailKey {
                email_hash: hash.into(),
            }
            .key(),
            Entity::OperatorFails => OperatorFailsKey {
                email_hash: hash.into(),
            }
            .key(),
            Entity::OperatorSession => OperatorSessionKey {
                token_hash: hash.into(),
            }
            .key(),
            Entity::SupportGrant => GrantKey {
                tenant,
                operator: OperatorId::parse(sample_id).unwrap_or_else(OperatorId::generate),
                grant: GrantId::parse(sample_id).unwrap_or_else(GrantId::generate),
            }
            .key(),
            Entity::Digest => DigestKey {
                tenant,
                week_start: NaiveDate::from_ymd_opt(2026, 11, 23).unwrap_or_default(),
            }
            .key(),
            Entity::SlackSetting => SlackSettingKey { tenant }.key(),
            Entity::ImportPlan => ImportKey {
                tenant,
                integration,
                item: ImportItem::Plan,
                id: "plan_1A2b".into(),
            }
            .key(),
            Entity::ImportLog => ImportKey {
                tenant,
                integration,
                item: ImportItem::Subscription,
                id: "sub_1A2b".into(),
            }
            .key(),
        }
    }

    /// `key` as this entity's typed key would write it again, if it parses as one.
    pub fn reparse(self, key: &Key) -> Option<Key> {
        fn again<K: EntityKey>(key: &Key) -> Option<Key> {
            K::parse(key).map(|k| k.key())
        }
        match self {
            Entity::Tenant => again::<TenantKey>(key),
            Entity::DataKey => again::<DataKeyKey>(key),
            Entity::User => again::<UserKey>(key),
            Entity::EmailLookup => again::<EmailLookupKey>(key),
            Entity::FailedLogins => again::<FailedLoginsKey>(key),
            Entity::Session => again::<SessionKey>(key),
            Entity::SessionRef => again::<SessionRefKey>(key),
            Entity::Token(kind) => TokenKey::parse(key)
                .filter(|k| k.kind == kind)
                .map(|k| k.key()),
            Entity::LoginAttempt => again::<LoginAttemptKey>(key),
            Entity::AuditEntry => again::<AuditKey>(key),
            Entity::AllowEntry => again::<AllowEntryKey>(key),
            Entity::RateCounter => again::<RateCounterKey>(key),
            Entity::Integration => again::<IntegrationKey>(key),
            Entity::IntegrationIndex => again::<IntegrationIndexKey>(key),
            Entity::StripeAccount => again::<StripeAccountKey>(key),
            Entity::SyncState => again::<SyncStateKey>(key),
            Entity::BillingRecord(kind) => BillingRecordKey::parse(key)
                .filter(|k| k.kind == kind)
                .map(|k| k.key()),
            Entity::CustomerProfile => again::<ProfileKey>(key),
            Entity::SnapshotPointer => again::<SnapshotPointerKey>(key),
            Entity::SnapshotChunk => again::<SnapshotChunkKey>(key),
            Entity::SnapshotPart => again::<SnapshotPartKey>(key),
            Entity::FxRates => again::<FxRatesKey>(key),
            Entity::ReportingCurrency => again::<ReportingCurrencyKey>(key),
            Entity::CustomSegments => again::<SegmentsKey>(key),
            Entity::Export => again::<ExportKey>(key),
            Entity::ExportPage => again::<ExportPageKey>(key),
            Entity::ExportRate => again::<ExportRateKey>(key),
            Entity::ClosedListing => again::<ClosedListingKey>(key),
            Entity::ErasureReceipt => again::<ReceiptKey>(key),
            Entity::WebhookSeen => again::<WebhookSeenKey>(key),
            Entity::EcbDay => again::<EcbDayKey>(key),
            Entity::Operator => again::<OperatorKey>(key),
            Entity::OperatorEmail => again::<OperatorEmailKey>(key),
            Entity::OperatorFails => again::<OperatorFailsKey>(key),
            Entity::OperatorSession => again::<OperatorSessionKey>(key),
            Entity::SupportGrant => again::<GrantKey>(key),
            Entity::Digest => again::<DigestKey>(key),
            Entity::SlackSetting => again::<SlackSettingKey>(key),
            Entity::ImportPlan => ImportKey::parse(key)
                .filter(|k| k.item == ImportItem::Plan)
                .map(|k| k.key()),
            Entity::ImportLog => ImportKey::parse(key)
                .filter(|k| k.item == ImportItem::Subscription)
                .map(|k| k.key()),
        }
    }
}

/// The entities the sweep deletes with a disconnected integration, at `stage`, and
/// what of each it deletes.
pub fn of_integration(stage: Sweep, tenant: &TenantId, id: &IntegrationId) -> Vec<Selection> {
    ENTITIES
        .iter()
        .filter(|e| e.spec().sweep == stage)
        .filter_map(|e| e.of_integration(tenant, id))
        .collect()
}

/// The global items closure removes that `found` points to.
pub fn pointed_by(found: &Found<'_>) -> Vec<Selection> {
    ENTITIES
        .iter()
        .filter(|e| e.spec().closure == Closure::Removed(found.via()))
        .filter_map(|e| e.pointed_by(found))
        .collect()
}

/// The export document's sections, in document order.
pub fn exported_sections() -> Vec<Section> {
    let mut sections: Vec<Section> = ENTITIES
        .iter()
        .filter_map(|e| match e.spec().export {
            Export::Section(section) => Some(section),
            Export::Omitted(_) => None,
        })
        .collect();
    sections.sort();
    sections.dedup();
    sections
}

#[cfg(test)]
mod tests;
