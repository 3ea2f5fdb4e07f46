//! When in the hour a tenant's scheduled syncs run. The planner runs every
//! [`PLAN_EVERY_SECS`] and asks each tenant's integrations to sync only in the window
//! that holds the tenant's offset, so the hour's syncs are spread over it instead of all
//! starting at minute 0, and a tenant syncs at the same minute every hour.
//!
//! The offset is a SHA-256 of a fixed label and the tenant id, reduced to a second of
//! the hour: stable across processes and deploys, and evenly spread (tenant ids are
//! random UUIDs). It says nothing about the tenant that its id does not.

use chrono::{DateTime, Timelike, Utc};
use sha2::{Digest, Sha256};

use crate::domain::ids::TenantId;

/// Seconds in the hour the offsets fall in.
pub const HOUR_SECS: u32 = 3600;

/// How often the planner runs (the ingest function's schedule: every 5 minutes, on
/// the minute, `cron(0/5 * * * ? *)`). It divides the hour.
pub const PLAN_EVERY_SECS: u32 = 300;

/// The second of the hour from which a tenant's scheduled syncs may run.
pub fn sync_offset(tenant: &TenantId) -> u32 {
    let digest = Sha256::new()
        .chain_update(b"tally/sync-offset/")
        .chain_update(tenant.as_str().as_bytes())
        .finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    (u64::from_be_bytes(first) % u64::from(HOUR_SECS)) as u32
}

/// The offsets a planner run at `at` asks for: `[start, start + PLAN_EVERY_SECS)` seconds
/// of the hour, the window before the one `at` falls in. Those offsets have all come
/// (a sync never runs before its offset) within the last `2 × PLAN_EVERY_SECS`, and each
/// run takes the window the previous one did not.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PlanWindow {
    pub start: u32,
}

impl PlanWindow {
    pub fn at(at: DateTime<Utc>) -> Self {
        let second = at.minute() * 60 + at.second();
        let current = second - second % PLAN_EVERY_SECS;
        Self {
            start: (current + HOUR_SECS - PLAN_EVERY_SECS) % HOUR_SECS,
        }
    }

    pub fn contains(self, offset: u32) -> bool {
        (self.start..self.start + PLAN_EVERY_SECS).contains(&offset)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn a_tenant_keeps_its_offset_and_offsets_spread_over_the_hour() {
        let tenant = TenantId::generate();
        assert_eq!(sync_offset(&tenant), sync_offset(&tenant));
        let mut per_window = [0u32; (HOUR_SECS / PLAN_EVERY_SECS) as usize];
        for _ in 0..1_200 {
            let offset = sync_offset(&TenantId::generate());
            assert!(offset < HOUR_SECS);
            per_window[(offset / PLAN_EVERY_SECS) as usize] += 1;
        }
        // 100 expected per window; a hash that clumped would leave some near empty.
        assert!(
            per_window.iter().all(|&n| (50..=160).contains(&n)),
            "{per_window:?}"
        );
    }

    #[test]
    fn a_fixed_tenant_id_has_a_fixed_offset() {
        let tenant = TenantId::parse("00000000-0000-4000-8000-000000000000").unwrap();
        let offset = sync_offset(&tenant);
        // The same on every machine and after every deploy.
        assert_eq!(offset, sync_offset(&tenant.clone()));
        assert!(offset < HOUR_SECS);
    }

    #[test]
    fn each_offset_is_in_exactly_one_window_of_the_hour() {
        let hour = Utc.with_ymd_and_hms(2026, 12, 2, 14, 0, 0).unwrap();
        let windows: Vec<PlanWindow> = (0..HOUR_SECS / PLAN_EVERY_SECS)
            .map(|i| {
                PlanWindow::at(hour + chrono::Duration::seconds(i64::from(i * PLAN_EVERY_SECS)))
            })
            .collect();
        for offset in [0, 1, 299, 300, 1799, 3599] {
            let holding = windows.iter().filter(|w| w.contains(offset)).count();
            assert_eq!(holding, 1, "offset {offset}");
        }
        // A run asks for the window that has just passed, a few seconds late or not.
        let late = hour + chrono::Duration::seconds(600 + 42);
        assert_eq!(PlanWindow::at(late), PlanWindow { start: 300 });
        assert_eq!(PlanWindow::at(hour), PlanWindow { start: 3300 });
    }
}
