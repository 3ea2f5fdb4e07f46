//! Security administration: the IP allowlist, the tenant's policy, sign-in analytics and
//! the audit log. Audit entries can be read here and nowhere changed.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::cidr::{self, Cidr};
use crate::domain::ids::{EntryId, UserId};
use crate::ports::{Condition, Cursor, Query, SortKeys, StoreError, WriteOp};
use crate::services::Services;
use crate::services::allowlist::{ALLOW_PREFIX, AllowEntry};
use crate::services::error::{BadRequest, Conflict, ServiceError};
use crate::services::layout::{self, AUDIT_PREFIX, LOGIN_PREFIX, sortable_time};
use crate::services::records::SecurityPolicy;
use crate::services::security::{AuditEntry, LoginAttempt, LoginOutcome};
use crate::services::sessions::TenantCtx;

/// Longest note on an allowlist entry.
const NOTE_MAX_CHARS: usize = 200;
/// How many addresses the sign-in summary names.
const TOP_IPS: usize = 10;

#[derive(Debug, Serialize)]
pub struct AllowEntryView {
    pub id: EntryId,
    pub cidr: Cidr,
    pub note: String,
    pub created_at: DateTime<Utc>,
}

/// `[from, to]` of a report; both inclusive.
#[derive(Clone, Copy, Debug)]
pub struct TimeRange {
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
}

#[derive(Debug, Default)]
pub struct AttemptFilter {
    pub outcome: Option<LoginOutcome>,
    pub user_id: Option<UserId>,
}

#[derive(Debug, Serialize)]
pub struct DayCount {
    pub date: NaiveDate,
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
}

#[derive(Debug, Serialize)]
pub struct IpCount {
    pub ip: IpAddr,
    pub count: u64,
}

#[derive(Debug, Serialize)]
pub struct AttemptSummary {
    pub total: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub locked_out: u64,
    pub by_day: Vec<DayCount>,
    pub top_ips: Vec<IpCount>,
}

fn entry_id(sk: &str) -> Option<EntryId> {
    sk.strip_prefix(ALLOW_PREFIX).and_then(EntryId::parse)
}

fn range_keys(prefix: &str, range: TimeRange) -> SortKeys {
    // `~` sorts after every character of the sort key's time and id.
    SortKeys::between(
        format!("{prefix}{}", sortable_time(range.from)),
        format!("{prefix}{}~", sortable_time(range.to)),
    )
}

impl Services {
    /// `GET /v1/security/ip-allowlist`.
    pub async fn list_allowlist(
        &self,
        ctx: &TenantCtx,
    ) -> Result<Vec<AllowEntryView>, ServiceError> {
        let entries = self.allowlist(ctx.tenant()).await?;
        Ok(entries
            .into_iter()
            .filter_map(|(item, e)| {
                Some(AllowEntryView {
                    id: entry_id(&item.key.sk)?,
                    cidr: e.cidr,
                    note: e.note,
                    created_at: e.created_at,
                })
            })
            .collect())
    }

    /// `POST /v1/security/ip-allowlist`: refused when the resulting list would not
    /// cover the caller's own address.
    pub async fn add_allow_entry(
        &self,
        ctx: &TenantCtx,
        cidr: &str,
        note: &str,
    ) -> Result<AllowEntryView, ServiceError> {
        let cidr = Cidr::parse(cidr)
            .filter(|c| !c.is_catch_all())
            .ok_or(ServiceError::BadRequest(BadRequest::InvalidCidr))?;
        let note = note.trim();
        if note.chars().count() > NOTE_MAX_CHARS || note.chars().any(char::is_control) {
            return Err(ServiceError::invalid(
                "note",
                "The note must be at most 200 characters, without control characters.",
            ));
        }
        let current = self.allowlist(ctx.tenant()).await?;
        let after: Vec<Cidr> = current
            .iter()
            .map(|(_, e)| e.cidr)
            .chain(std::iter::once(cidr))
            .collect();
        if !cidr::allows(&after, ctx.ip()) {
            return Err(ServiceError::Conflict(Conflict::WouldLockOut));
        }
        let id = EntryId::generate();
        let entry = AllowEntry {
            cidr,
            note: note.to_owned(),
            created_at: self.now(),
        };
        let key = crate::ports::Key::new(ctx.tenant().partition(), format!("{ALLOW_PREFIX}{id}"));
        let item = self.seal(ctx.tenant(), key, &entry).await?;
        self.adapters.store.put(item, Condition::Absent).await?;
        self.audit(
            ctx.tenant(),
            Some(ctx.user()),
            "AllowlistEntryAdded",
            Some(format!("allowlist:{id}:{cidr}")),
            Some(ctx.ip()),
        )
        .await?;
        Ok(AllowEntryView {
            id,
            cidr,
            note: entry.note,
            created_at: entry.created_at,
        })
    }

    /// `DELETE /v1/security/ip-allowlist/{id}`: refused when what remains would not
    /// cover the caller (removing the last entry opens the list, which always does).
    pub async fn remove_allow_entry(
        &self,
        ctx: &TenantCtx,
        id: &EntryId,
    ) -> Result<(), ServiceError> {
        let current = self.allowlist(ctx.tenant()).await?;
        let (item, removed) = current
            .iter()
            .find(|(item, _)| entry_id(&item.key.sk).as_ref() == Some(id))
            .ok_or(ServiceError::NotFound)?;
        let remaining: Vec<Cidr> = current
            .iter()
            .filter(|(i, _)| i.key != item.key)
            .map(|(_, e)| e.cidr)
            .collect();
        if !cidr::allows(&remaining, ctx.ip()) {
            return Err(ServiceError::Conflict(Conflict::WouldLockOut));
        }
        match self
            .adapters
            .store
            .delete(&item.key, Condition::VersionIs(item.version))
            .await
        {
            Ok(()) | Err(StoreError::ConditionFailed) => {}
            Err(other) => return Err(other.into()),
        }
        self.audit(
            ctx.tenant(),
            Some(ctx.user()),
            "AllowlistEntryRemoved",
            Some(format!("allowlist:{id}:{}", removed.cidr)),
            Some(ctx.ip()),
        )
        .await
    }

    /// `GET /v1/security/policy`.
    pub async fn policy(&self, ctx: &TenantCtx) -> Result<SecurityPolicy, ServiceError> {
        Ok(self
            .load_tenant(ctx.tenant())
            .await?
            .ok_or(ServiceError::NotFound)?
            .record
            .policy)
    }

    /// `PUT /v1/security/policy`.
    pub async fn set_policy(
        &self,
        ctx: &TenantCtx,
        policy: SecurityPolicy,
    ) -> Result<SecurityPolicy, ServiceError> {
        let tenant = self
            .load_tenant(ctx.tenant())
            .await?
            .ok_or(ServiceError::NotFound)?;
        let before = tenant.record.policy;
        let mut record = tenant.record;
        record.policy = policy;
        let mut item = self
            .seal(ctx.tenant(), layout::tenant(ctx.tenant()), &record)
            .await?
            .with_version(tenant.version + 1);
        // Plain attributes (status) stay as they are.
        for (name, value) in tenant
            .item
            .attrs
            .iter()
            .filter(|(n, _)| n.as_str() != crate::services::vault::SEALED_ATTR)
        {
            item.attrs.insert(name.clone(), value.clone());
        }
        self.transact_or(
            vec![WriteOp::Put {
                item,
                condition: Condition::VersionIs(tenant.version),
            }],
            ServiceError::Conflict(Conflict::ConcurrentUpdate),
        )
        .await?;
        if before != policy {
            let action = format!(
                "PolicyChanged:preset={},require_mfa={}",
                serde_json::to_value(policy.preset)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                policy.require_mfa
            );
            self.audit(
                ctx.tenant(),
                Some(ctx.user()),
                &action,
                Some(format!("tenant:{}", ctx.tenant())),
                Some(ctx.ip()),
            )
            .await?;
        }
        Ok(policy)
    }

    /// `GET /v1/security/login-attempts`: the summary over the whole range and filter,
    /// and one page of the attempts, newest first.
    pub async fn login_attempts(
        &self,
        ctx: &TenantCtx,
        range: TimeRange,
        filter: &AttemptFilter,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(AttemptSummary, Vec<LoginAttempt>, Option<Cursor>), ServiceError> {
        let sort = range_keys(LOGIN_PREFIX, range);
        let keep = |a: &LoginAttempt| {
            filter.outcome.is_none_or(|o| o == a.outcome)
                && filter
                    .user_id
                    .as_ref()
                    .is_none_or(|u| a.user_id.as_ref() == Some(u))
        };
        // The summary reads the whole range: a tenant's sign-ins are hundreds a day.
        let mut summary = AttemptSummary {
            total: 0,
            succeeded: 0,
            failed: 0,
            locked_out: 0,
            by_day: Vec::new(),
            top_ips: Vec::new(),
        };
        let mut days: BTreeMap<NaiveDate, DayCount> = BTreeMap::new();
        let mut ips: HashMap<IpAddr, u64> = HashMap::new();
        let mut next = None;
        loop {
            let page = self
                .adapters
                .store
                .query(
                    Query::new(ctx.tenant().partition(), sort.clone())
                        .limit(1000)
                        .after(next),
                )
                .await?;
            for item in &page.items {
                let attempt: LoginAttempt = self.open(ctx.tenant(), item).await?;
                if !keep(&attempt) {
                    continue;
                }
                summary.total += 1;
                let failed = attempt.outcome.failed();
                if failed {
                    summary.failed += 1
                } else {
                    summary.succeeded += 1
                }
                if attempt.outcome == LoginOutcome::Locked {
                    summary.locked_out += 1;
                }
                let date = attempt.at.date_naive();
                let day = days.entry(date).or_insert(DayCount {
                    date,
                    total: 0,
                    succeeded: 0,
                    failed: 0,
                });
                day.total += 1;
                if failed {
                    day.failed += 1
                } else {
                    day.succeeded += 1
                }
                *ips.entry(attempt.ip).or_default() += 1;
            }
            match page.next_cursor {
                Some(c) => next = Some(c),
                None => break,
            }
        }
        summary.by_day = days.into_values().collect();
        let mut top: Vec<IpCount> = ips
            .into_iter()
            .map(|(ip, count)| IpCount { ip, count })
            .collect();
        top.sort_by(|a, b| b.count.cmp(&a.count).then(a.ip.cmp(&b.ip)));
        top.truncate(TOP_IPS);
        summary.top_ips = top;

        let (data, next_cursor) = self.filtered_page(ctx, sort, limit, cursor, keep).await?;
        Ok((summary, data, next_cursor))
    }

    /// One page, newest first, of the records in `sort` that pass `keep`. It reads on
    /// past the page until one more record passes, so `next_cursor` is `Some` exactly
    /// when another page has something in it.
    async fn filtered_page<T: serde::de::DeserializeOwned>(
        &self,
        ctx: &TenantCtx,
        sort: SortKeys,
        limit: usize,
        mut cursor: Option<Cursor>,
        keep: impl Fn(&T) -> bool,
    ) -> Result<(Vec<T>, Option<Cursor>), ServiceError> {
        let mut data = Vec::new();
        let mut last_sk = None;
        loop {
            let query = Query::new(ctx.tenant().partition(), sort.clone())
                .reverse()
                .limit(limit + 1)
                .after(cursor);
            let page = self.adapters.store.query(query).await?;
            for item in &page.items {
                let record: T = self.open(ctx.tenant(), item).await?;
                if !keep(&record) {
                    continue;
                }
                if data.len() == limit {
                    return Ok((data, last_sk.map(Cursor::after_sort_key)));
                }
                data.push(record);
                last_sk = Some(item.key.sk.clone());
            }
            match page.next_cursor {
                Some(next) => cursor = Some(next),
                None => return Ok((data, None)),
            }
        }
    }

    /// `GET /v1/security/audit-log`: newest first.
    pub async fn audit_log(
        &self,
        ctx: &TenantCtx,
        range: TimeRange,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<AuditEntry>, Option<Cursor>), ServiceError> {
        self.filtered_page(
            ctx,
            range_keys(AUDIT_PREFIX, range),
            limit,
            cursor,
            |_: &AuditEntry| true,
        )
        .await
    }
}
