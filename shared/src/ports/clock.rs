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

/// The system clock moved by an offset that can be changed while the app runs.
#[derive(Debug, Default)]
pub struct ShiftedClock {
    offset_ms: AtomicI64,
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
        self.offset_ms
            .fetch_add(by.num_milliseconds(), Ordering::SeqCst);
    }
    pub fn set(&self, at: DateTime<Utc>) {
        let offset = (at - Utc::now()).num_milliseconds();
        self.offset_ms.store(offset, Ordering::SeqCst);
    }
}

impl Clock for ShiftedClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now() + Duration::milliseconds(self.offset_ms.load(Ordering::SeqCst))
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
}
