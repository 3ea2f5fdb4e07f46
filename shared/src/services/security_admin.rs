//! Security administration: the IP allowlist, the tenant's policy, sign-in analytics and
//! the audit log. Audit entries can be read here and nowhere changed.

use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use chrono::{DateTime, NaiveDate, Utc};
use serde::Serialize;

use crate::domain::cidr::{self, Cidr};
use crate::domain::ids::{EntryId, UserId};
use crate::ports::Cursor;
use crate::services::allowlist::AllowEntry;
use crate::services::contexts::TenantAdmin;
use crate::services::error::{BadRequest, Conflict, ServiceError};
use crate::services::records::transact_or;
use crate::services::records::{MIN_GROUP_SIZE_RANGE, SecurityPolicy};
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

impl TenantAdmin {
    /// `GET /v1/security/ip-allowlist`.
    pub async fn list_allowlist(
        &self,
        ctx: &TenantCtx,
    ) -> Result<Vec<AllowEntryView>, ServiceError> {
        let entries = self.gate.allowlist(ctx.tenant()).await?;
        Ok(entries
            .into_iter()
            .map(|(id, e)| AllowEntryView {
                id,
                cidr: e.record.cidr,
                note: e.record.note,
                created_at: e.record.created_at,
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
        let current = self.gate.allowlist(ctx.tenant()).await?;
        let after: Vec<Cidr> = current
            .iter()
            .map(|(_, e)| e.record.cidr)
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
        self.repos.allowlist.add(ctx.tenant(), &id, &entry).await?;
        self.guard
            .audit(
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
        let current = self.gate.allowlist(ctx.tenant()).await?;
        let (_, removed) = current
            .iter()
            .find(|(entry, _)| entry == id)
            .ok_or(ServiceError::NotFound)?;
        let remaining: Vec<Cidr> = current
            .iter()
            .filter(|(entry, _)| entry != id)
            .map(|(_, e)| e.record.cidr)
            .collect();
        if !cidr::allows(&remaining, ctx.ip()) {
            return Err(ServiceError::Conflict(Conflict::WouldLockOut));
        }
        self.repos
            .allowlist
            .remove(ctx.tenant(), id, removed.version)
            .await?;
        self.guard
            .audit(
                ctx.tenant(),
                Some(ctx.user()),
                "AllowlistEntryRemoved",
                Some(format!("allowlist:{id}:{}", removed.record.cidr)),
                Some(ctx.ip()),
            )
            .await
    }

    /// `GET /v1/security/policy`.
    pub async fn policy(&self, ctx: &TenantCtx) -> Result<SecurityPolicy, ServiceError> {
        Ok(self
            .repos
            .tenants
            .get(ctx.tenant())
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
            .repos
            .tenants
            .get(ctx.tenant())
            .await?
            .ok_or(ServiceError::NotFound)?;
        if !MIN_GROUP_SIZE_RANGE.contains(&policy.min_group_size) {
            return Err(ServiceError::invalid(
                "min_group_size",
                "Field `min_group_size` must be between 2 and 1000.",
            ));
        }
        let before = tenant.record.policy;
        let mut record = tenant.record.clone();
        record.policy = policy;
        let write = self
            .repos
            .tenants
            .update(ctx.tenant(), &tenant, &record)
            .await?;
        transact_or(
            &self.repos,
            vec![write],
            ServiceError::Conflict(Conflict::ConcurrentUpdate),
        )
        .await?;
        if before != policy {
            let action = format!(
                "PolicyChanged:preset={},require_mfa={},min_group_size={}",
                serde_json::to_value(policy.preset)
                    .ok()
                    .and_then(|v| v.as_str().map(str::to_owned))
                    .unwrap_or_default(),
                policy.require_mfa,
                policy.min_group_size
            );
            self.guard
                .audit(
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
            let (attempts, cursor) = self
                .repos
                .login_attempts
                .scan(ctx.tenant(), range.from, range.to, next)
                .await?;
            for attempt in attempts {
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
            match cursor {
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

        let (data, next_cursor) = self
            .repos
            .login_attempts
            .newest_first(ctx.tenant(), range.from, range.to, limit, cursor, keep)
            .await?;
        Ok((summary, data, next_cursor))
    }

    /// `GET /v1/security/audit-log`: newest first.
    pub async fn audit_log(
        &self,
        ctx: &TenantCtx,
        range: TimeRange,
        limit: usize,
        cursor: Option<Cursor>,
    ) -> Result<(Vec<AuditEntry>, Option<Cursor>), ServiceError> {
        Ok(self
            .repos
            .audit_log
            .newest_first(ctx.tenant(), range.from, range.to, limit, cursor, |_| true)
            .await?)
    }
}
