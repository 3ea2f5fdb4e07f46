//! The Clock port. Production reads the system clock; tests and the local `sweep --at`
//! shift it instead of sleeping.

use std::sync::atomic::{AtomicI64, Ordering};

use chrono::{DateTime, Duration, Utc};

pub trait Clock: Send + Sync {
    fn now(&self) -> DateTime<Utc>;
}

/// The system clock.
#[derive(Clone, Copy, Debug, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
}

/// The system clock moved by an offset that can be changed while the app runs, or
/// held still: a test whose outcome depends on where "now" falls (a per-minute
/// budget, a 60 s window) freezes it so a slow machine cannot cross a boundary.
#[derive(Debug)]
pub struct ShiftedClock {
    offset_ms: AtomicI64,
    /// Milliseconds since the epoch while frozen; `NOT_FROZEN` while the clock runs.
    frozen_ms: AtomicI64,
}

const NOT_FROZEN: i64 = i64::MIN;

impl Default for ShiftedClock {
    fn default() -> Self {
        Self {
            offset_ms: AtomicI64::new(0),
            frozen_ms: AtomicI64::new(NOT_FROZEN),
        }
    }
}

impl ShiftedClock {
    pub fn new() -> Self {
        Self::default()
    }
    /// A clock that reads `at` now (and moves on from there).
    pub fn starting_at(at: DateTime<Utc>) -> Self {
        let clock = Self::new();
        clock.set(at);
        clock
    }
    pub fn advance(&self, by: Duration) {
        let by = by.num_milliseconds();
        let frozen = self
            .frozen_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |at| {
                (at != NOT_FROZEN).then(|| at + by)
            });
        if frozen.is_err() {
            self.offset_ms.fetch_add(by, Ordering::SeqCst);
        }
    }
    pub fn set(&self, at: DateTime<Utc>) {
        let frozen = self
            .frozen_ms
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |was| {
                (was != NOT_FROZEN).then(|| at.timestamp_millis())
            });
        if frozen.is_err() {
            let offset = (at - Utc::now()).num_milliseconds();
            self.offset_ms.store(offset, Ordering::SeqCst);
        }
    }
    /// Stops the clock at `at`: it reads `at` until advanced or set.
    pub fn freeze_at(&self, at: DateTime<Utc>) {
        self.frozen_ms
            .store(at.timestamp_millis(), Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        match self.frozen_ms.load(Ordering::SeqCst) {
            NOT_FROZEN => {
                Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
            }
            at => DateTime::from_timestamp_millis(at).unwrap_or_else(Utc::now),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shifted_clock_moves_by_the_offset() {
        let clock = ShiftedClock::new();
        let before = Utc::now();
        clock.advance(Duration::hours(25));
        let shifted = clock.now();
        assert!(shifted - before >= Duration::hours(25));
        assert!(shifted - before < Duration::hours(25) + Duration::seconds(5));
    }

    #[test]
    fn a_frozen_clock_moves_only_when_advanced() {
        let clock = ShiftedClock::new();
        let at = DateTime::from_timestamp(1_800_000_000, 0).unwrap_or_default();
        clock.freeze_at(at);
        std::thread::sleep(std::time::Duration::from_millis(5));
        assert_eq!(clock.now(), at);
        clock.advance(Duration::seconds(61));
        assert_eq!(clock.now(), at + Duration::seconds(61));
    }
}
