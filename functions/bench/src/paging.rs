//! `bench paging`: what one page of the embedded store costs at the start of a
//! partition's prefix and deep into it (issue 21: a page must cost the same at position
//! 0 and at position 1,000,000).
//!
//! Fills a fresh SQLite store with rows of ~1.4 KB (a sealed billing record's size)
//! under one prefix of one partition, then times pages of 100 that start after a
//! cursor at each position (median of 9, after one warm-up).

use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use tally::adapters::embedded::SqliteStore;
use tally::ports::{Attr, Cursor, Item, Key, Query, SortKeys, Store};

use crate::report::{count, duration};

const PARTITION: &str = "TENANT#bench";
const PREFIX: &str = "INV#integration#";
/// Rows written per batch call (the store commits each in one transaction).
const BATCH: usize = 2_000;
const PAGE: usize = 100;
const SAMPLES: usize = 9;

fn sort_key(i: usize) -> String {
    format!("{PREFIX}in_{i:09}")
}

pub fn main(quick: bool) -> Result<()> {
    let positions: Vec<usize> = if quick {
        vec![0, 1_000, 10_000]
    } else {
        vec![0, 100_000, 1_000_000]
    };
    let rows = positions.iter().max().copied().unwrap_or(0) + PAGE + 1;
    let build = if cfg!(debug_assertions) {
        "debug build: a smoke test, not a measurement"
    } else {
        "release build"
    };
    eprintln!("bench paging: {} rows of ~1.4 KB ({build})", count(rows));
    let dir = tempfile::tempdir().context("a temporary directory")?;
    let store = SqliteStore::open(dir.path(), "bench").context("the embedded store")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let started = Instant::now();
        let body = Attr::B(vec![0x5a; 1_400]);
        for start in (0..rows).step_by(BATCH) {
            let items = (start..(start + BATCH).min(rows))
                .map(|i| Item::new(Key::new(PARTITION, sort_key(i))).with("sealed", body.clone()))
                .collect();
            store.batch_put(items).await?;
        }
        eprintln!("  filled in {}", duration(started.elapsed()));
        println!("# Tally bench: one page of {PAGE} from the embedded store, by position\n");
        println!("| position in the prefix | page time (median of {SAMPLES}) |");
        println!("|---|---|");
        for &position in &positions {
            let cursor = (position > 0).then(|| Cursor::after_sort_key(sort_key(position - 1)));
            let query = Query::new(PARTITION, SortKeys::prefix(PREFIX))
                .limit(PAGE)
                .after(cursor);
            store.query(query.clone()).await?;
            let mut times: Vec<Duration> = Vec::with_capacity(SAMPLES);
            for _ in 0..SAMPLES {
                let started = Instant::now();
                let page = store.query(query.clone()).await?;
                times.push(started.elapsed());
                anyhow::ensure!(
                    page.items.first().map(|i| i.key.sk.as_str())
                        == Some(sort_key(position).as_str()),
                    "the page at {position} starts at the wrong row"
                );
            }
            times.sort();
            println!("| {} | {} |", count(position), duration(times[SAMPLES / 2]));
        }
        Ok::<_, anyhow::Error>(())
    })
}
