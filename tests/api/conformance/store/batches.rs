//! Batch writes: every item written (or deleted) unconditionally, last item of a key
//! wins, invalid requests refused before anything is written.
//!
//! Sizes are chosen against DynamoDB's batches of 25: 60 items take three requests,
//! the last one partial.

use tally::ports::store::query_all;
use tally::ports::{Attr, Condition, Item, Key, Query, SortKeys, StoreError};

use super::{Fixture, item, partition, sort_keys};

/// `count` items `ITEM#000`... of a partition, each with its index and a payload.
fn numbered(pk: &str, count: usize) -> Vec<Item> {
    (0..count)
        .map(|i| {
            item(pk, &format!("ITEM#{i:03}"))
                .with("index", Attr::N(i as i64))
                .with("sealed", Attr::B(vec![i as u8; 100]))
                .with_version(i as u64 + 1)
        })
        .collect()
}

/// Every item of a partition, in sort-key order.
async fn partition_items(store: &Fixture, pk: &str) -> Vec<Item> {
    query_all(&**store, Query::new(pk, SortKeys::All).limit(1000))
        .await
        .unwrap()
}

pub(super) async fn a_batch_of_sixty_puts_reads_back_exactly(store: &Fixture) {
    let pk = partition();
    let items = numbered(&pk, 60);
    store.batch_put(items.clone()).await.unwrap();
    assert_eq!(partition_items(store, &pk).await, items);
    for written in &items {
        assert_eq!(
            store.get(&written.key).await.unwrap().as_ref(),
            Some(written)
        );
    }
}

pub(super) async fn a_batch_put_replaces_existing_items_whole(store: &Fixture) {
    let pk = partition();
    let old: Vec<Item> = numbered(&pk, 30)
        .into_iter()
        .map(|i| i.with("old_only", Attr::S("gone".into())))
        .collect();
    store.batch_put(old).await.unwrap();
    let new: Vec<Item> = numbered(&pk, 30)
        .into_iter()
        .map(|i| i.with("new_only", Attr::N(2)).with_version(40))
        .collect();
    store.batch_put(new.clone()).await.unwrap();
    assert_eq!(partition_items(store, &pk).await, new);
}

pub(super) async fn a_batch_put_naming_one_key_twice_keeps_the_last_item(store: &Fixture) {
    let pk = partition();
    let mut items = numbered(&pk, 30);
    // The duplicates fall in other DynamoDB batches than the first item of their key.
    // ITEM#010 three times (first, 12th, 32nd), ITEM#000 twice (2nd and last).
    let last_010 = item(&pk, "ITEM#010").with("last", Attr::N(2));
    items.push(last_010.clone());
    items.insert(0, item(&pk, "ITEM#010").with("first", Attr::N(0)));
    let last_000 = item(&pk, "ITEM#000")
        .with("last", Attr::N(1))
        .with_version(9);
    items.push(last_000.clone());
    store.batch_put(items).await.unwrap();
    let stored = partition_items(store, &pk).await;
    assert_eq!(stored.len(), 30);
    assert_eq!(store.get(&last_000.key).await.unwrap(), Some(last_000));
    assert_eq!(store.get(&last_010.key).await.unwrap(), Some(last_010));
}

pub(super) async fn a_batch_delete_removes_existing_keys_and_ignores_missing_ones(store: &Fixture) {
    let pk = partition();
    let items = numbered(&pk, 60);
    store.batch_put(items.clone()).await.unwrap();
    // Every even item, some keys that never existed, and one key twice.
    let mut keys: Vec<Key> = items.iter().step_by(2).map(|i| i.key.clone()).collect();
    keys.extend((0..10).map(|i| Key::new(&pk, format!("MISSING#{i}"))));
    keys.push(items[0].key.clone());
    store.batch_delete(keys.clone()).await.unwrap();
    let kept: Vec<Item> = items.iter().skip(1).step_by(2).cloned().collect();
    assert_eq!(partition_items(store, &pk).await, kept);
    // Deleting again, now that none of them exists, succeeds too.
    store.batch_delete(keys).await.unwrap();
    assert_eq!(partition_items(store, &pk).await, kept);
}

/// The error of a put, for comparing the batch's with it.
async fn put_error(store: &Fixture, item: Item) -> String {
    match store.put(item, Condition::None).await {
        Err(error @ StoreError::Invalid(_)) => error.to_string(),
        other => panic!("the put is invalid: {other:?}"),
    }
}

/// Every adapter checks the whole call before it writes anything (on DynamoDB: before
/// the first BatchWriteItem request), so an invalid item anywhere in it, even after
/// several full batches, writes none of the valid ones.
pub(super) async fn a_batch_with_an_invalid_item_is_refused_as_put_refuses_it_and_writes_nothing(
    store: &Fixture,
) {
    let pk = partition();
    let bad_items = [
        item(&pk, "ITEM#bad").with("version", Attr::N(1)),
        item(&pk, "ITEM#bad").with("Upper", Attr::N(1)),
        Item::new(Key::new(&pk, "")),
    ];
    for bad in bad_items {
        let expected = put_error(store, bad.clone()).await;
        let mut items = numbered(&pk, 60);
        items.insert(55, bad);
        let refused = store.batch_put(items).await;
        assert!(
            matches!(&refused, Err(error @ StoreError::Invalid(_)) if error.to_string() == expected),
            "{expected}: {refused:?}"
        );
        assert_eq!(partition_items(store, &pk).await, Vec::new(), "{expected}");
    }

    let items = numbered(&pk, 3);
    store.batch_put(items.clone()).await.unwrap();
    let mut keys: Vec<Key> = items.iter().map(|i| i.key.clone()).collect();
    keys.push(Key::new(&pk, ""));
    let refused = store.batch_delete(keys).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(partition_items(store, &pk).await, items);
}

pub(super) async fn a_batch_spanning_several_partitions_writes_each_item_to_its_own(
    store: &Fixture,
) {
    let partitions: Vec<String> = (0..4).map(|_| partition()).collect();
    // Interleaved, so every DynamoDB batch holds items of every partition.
    let items: Vec<Item> = (0..40)
        .map(|i| {
            let pk = &partitions[i % partitions.len()];
            item(pk, &format!("ITEM#{i:03}")).with("index", Attr::N(i as i64))
        })
        .collect();
    store.batch_put(items.clone()).await.unwrap();
    for pk in &partitions {
        let expected: Vec<Item> = items.iter().filter(|i| &i.key.pk == pk).cloned().collect();
        assert_eq!(partition_items(store, pk).await, expected, "{pk}");
    }

    let keys = items.iter().step_by(3).map(|i| i.key.clone()).collect();
    store.batch_delete(keys).await.unwrap();
    for pk in &partitions {
        let kept: Vec<Item> = items
            .iter()
            .enumerate()
            .filter(|(n, i)| n % 3 != 0 && &i.key.pk == pk)
            .map(|(_, i)| i.clone())
            .collect();
        let stored = partition_items(store, pk).await;
        assert_eq!(sort_keys(&stored), sort_keys(&kept), "{pk}");
    }
}

pub(super) async fn empty_batches_write_nothing_and_succeed(store: &Fixture) {
    store.batch_put(Vec::new()).await.unwrap();
    store.batch_delete(Vec::new()).await.unwrap();
}
