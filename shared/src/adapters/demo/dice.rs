//! The seeded randomness of the demo generator, behind helpers that cannot panic: the
//! rand crate panics on an empty range or a probability outside [0, 1], and a demo
//! dataset with odd parameters must still be generated, never abort a server.

use rand::rngs::ChaCha8Rng;
use rand::{RngExt, SeedableRng};

/// A ChaCha8 stream: portable and stable across platforms and releases of the crate
/// version the lock file pins, so a seed names one dataset.
pub(super) struct Dice {
    rng: ChaCha8Rng,
}

impl Dice {
    pub(super) fn seeded(seed: u64) -> Self {
        Dice {
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// True with probability `p` (clamped to [0, 1]).
    pub(super) fn chance(&mut self, p: f64) -> bool {
        let p = if p.is_nan() { 0.0 } else { p.clamp(0.0, 1.0) };
        self.rng.random_bool(p)
    }

    /// A uniform integer in `low..=high`; `low` when the range is empty.
    pub(super) fn between(&mut self, low: i64, high: i64) -> i64 {
        if high <= low {
            low
        } else {
            self.rng.random_range(low..=high)
        }
    }

    /// A uniform count in `low..=high`; `low` when the range is empty.
    pub(super) fn count(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            low
        } else {
            self.rng.random_range(low..=high)
        }
    }

    /// A uniform float in [0, 1).
    pub(super) fn unit(&mut self) -> f64 {
        self.rng.random::<f64>()
    }

    /// One of `choices`, each as likely as its weight; `None` when there is nothing
    /// to choose (no choices, or every weight zero).
    pub(super) fn weighted<'a, T>(&mut self, choices: &'a [(T, u32)]) -> Option<&'a T> {
        let total: u64 = choices.iter().map(|(_, weight)| u64::from(*weight)).sum();
        if total == 0 {
            return None;
        }
        let mut ticket = self.count(0, total - 1);
        for (choice, weight) in choices {
            let weight = u64::from(*weight);
            if ticket < weight {
                return Some(choice);
            }
            ticket -= weight;
        }
        None
    }

    /// One of `choices` uniformly; `None` when empty.
    pub(super) fn pick<'a, T>(&mut self, choices: &'a [T]) -> Option<&'a T> {
        if choices.is_empty() {
            return None;
        }
        let last = choices.len() as u64 - 1;
        choices.get(self.count(0, last) as usize)
    }
}
