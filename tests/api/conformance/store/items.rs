//! Single items: get, conditional put and delete, atomic increment.

use std::sync::Arc;

use tally::ports::{Attr, Condition, Item, Key, StoreError};

use super::{Fixture, item, partition};

pub(super) async fn getting_a_missing_item_returns_none(store: &Fixture) {
    let key = Key::new(partition(), "USER#missing");
    assert_eq!(store.get(&key).await.unwrap(), None);
}

pub(super) async fn a_put_item_reads_back_with_every_attribute_kind_and_its_version(
    store: &Fixture,
) {
    let stored = Item::new(Key::new(partition(), "CUST#1"))
        .with("status", Attr::S("active — ünïcödé \"quoted\"".into()))
        .with("count", Attr::N(-42))
        .with("big", Attr::N(i64::MAX))
        .with("sealed", Attr::B(vec![0x00, 0x01, 0xFE, 0xFF, 0x00]))
        .with_version(7);
    store.put(stored.clone(), Condition::None).await.unwrap();
    assert_eq!(store.get(&stored.key).await.unwrap(), Some(stored));
}

pub(super) async fn a_put_without_condition_replaces_the_item(store: &Fixture) {
    let pk = partition();
    let first = item(&pk, "CUST#1").with("old_only", Attr::N(1));
    store.put(first, Condition::None).await.unwrap();
    let second = item(&pk, "CUST#1")
        .with("new_only", Attr::N(2))
        .with_version(2);
    store.put(second.clone(), Condition::None).await.unwrap();
    assert_eq!(store.get(&second.key).await.unwrap(), Some(second));
}

pub(super) async fn a_conditional_put_is_refused_when_the_item_exists(store: &Fixture) {
    let pk = partition();
    let original = item(&pk, "USER#1");
    store
        .put(original.clone(), Condition::Absent)
        .await
        .unwrap();
    let rival = item(&pk, "USER#1")
        .with("rival", Attr::N(1))
        .with_version(9);
    let refused = store.put(rival, Condition::Absent).await;
    assert!(
        matches!(refused, Err(StoreError::ConditionFailed)),
        "{refused:?}"
    );
    assert_eq!(store.get(&original.key).await.unwrap(), Some(original));
}

pub(super) async fn a_put_conditioned_on_a_stale_version_is_refused(store: &Fixture) {
    let pk = partition();
    let current = item(&pk, "USER#1").with_version(2);
    store.put(current.clone(), Condition::None).await.unwrap();
    let stale = item(&pk, "USER#1")
        .with("stale", Attr::N(1))
        .with_version(2);
    let refused = store.put(stale, Condition::VersionIs(1)).await;
    assert!(
        matches!(refused, Err(StoreError::ConditionFailed)),
        "{refused:?}"
    );
    assert_eq!(store.get(&current.key).await.unwrap(), Some(current));
}

pub(super) async fn a_put_conditioned_on_the_current_version_is_accepted(store: &Fixture) {
    let pk = partition();
    store
        .put(item(&pk, "USER#1"), Condition::Absent)
        .await
        .unwrap();
    let next = item(&pk, "USER#1").with("step", Attr::N(2)).with_version(2);
    store
        .put(next.clone(), Condition::VersionIs(1))
        .await
        .unwrap();
    assert_eq!(store.get(&next.key).await.unwrap(), Some(next));
}

pub(super) async fn a_put_conditioned_on_existence_is_refused_when_the_item_is_absent(
    store: &Fixture,
) {
    let pk = partition();
    let refused = store.put(item(&pk, "USER#1"), Condition::Exists).await;
    assert!(
        matches!(refused, Err(StoreError::ConditionFailed)),
        "{refused:?}"
    );
    assert_eq!(store.get(&Key::new(&pk, "USER#1")).await.unwrap(), None);

    store
        .put(item(&pk, "USER#1"), Condition::None)
        .await
        .unwrap();
    let update = item(&pk, "USER#1").with("seen", Attr::N(1));
    store.put(update.clone(), Condition::Exists).await.unwrap();
    assert_eq!(store.get(&update.key).await.unwrap(), Some(update));
}

pub(super) async fn a_put_with_a_reserved_or_malformed_attribute_name_is_invalid(store: &Fixture) {
    let pk = partition();
    for name in ["pk", "sk", "version", "Upper", "with space", ""] {
        let bad = item(&pk, "USER#1").with(name, Attr::N(1));
        let refused = store.put(bad, Condition::None).await;
        assert!(
            matches!(refused, Err(StoreError::Invalid(_))),
            "{name:?}: {refused:?}"
        );
    }
    let empty_sort_key = Item::new(Key::new(&pk, ""));
    let refused = store.put(empty_sort_key, Condition::None).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(store.get(&Key::new(&pk, "USER#1")).await.unwrap(), None);
}

pub(super) async fn a_delete_conditioned_on_a_stale_version_is_refused_and_keeps_the_item(
    store: &Fixture,
) {
    let pk = partition();
    let current = item(&pk, "SESSION#1").with_version(3);
    store.put(current.clone(), Condition::None).await.unwrap();
    let refused = store.delete(&current.key, Condition::VersionIs(2)).await;
    assert!(
        matches!(refused, Err(StoreError::ConditionFailed)),
        "{refused:?}"
    );
    assert_eq!(store.get(&current.key).await.unwrap(), Some(current));
}

pub(super) async fn a_delete_conditioned_on_the_current_version_removes_the_item(store: &Fixture) {
    let pk = partition();
    let current = item(&pk, "SESSION#1").with_version(3);
    store.put(current.clone(), Condition::None).await.unwrap();
    store
        .delete(&current.key, Condition::VersionIs(3))
        .await
        .unwrap();
    assert_eq!(store.get(&current.key).await.unwrap(), None);
}

pub(super) async fn deleting_a_missing_item_succeeds_unless_it_must_exist(store: &Fixture) {
    let key = Key::new(partition(), "SESSION#never");
    store.delete(&key, Condition::None).await.unwrap();
    store.delete(&key, Condition::Absent).await.unwrap();
    let refused = store.delete(&key, Condition::Exists).await;
    assert!(
        matches!(refused, Err(StoreError::ConditionFailed)),
        "{refused:?}"
    );
    let refused = store.delete(&key, Condition::VersionIs(1)).await;
    assert!(
        matches!(refused, Err(StoreError::ConditionFailed)),
        "{refused:?}"
    );
}

pub(super) async fn concurrent_increments_all_count_and_return_distinct_values(store: &Fixture) {
    let key = Key::new(partition(), "RATE#login");
    let tasks: Vec<_> = (0..20)
        .map(|_| {
            let (store, key) = (Arc::clone(&store.port), key.clone());
            tokio::spawn(async move { store.increment(&key, "count", 1, None).await })
        })
        .collect();
    let mut results = Vec::new();
    for task in tasks {
        results.push(task.await.unwrap().unwrap());
    }
    results.sort_unstable();
    assert_eq!(results, (1..=20).collect::<Vec<i64>>());
    let counted = store.get(&key).await.unwrap().unwrap();
    assert_eq!(counted.n("count"), Some(20));
}

pub(super) async fn an_increment_creates_a_missing_item_and_sets_its_expiry(store: &Fixture) {
    let key = Key::new(partition(), "RATE#login");
    let value = store
        .increment(&key, "attempts", 3, Some(1_900_000_000))
        .await
        .unwrap();
    assert_eq!(value, 3);
    let created = store.get(&key).await.unwrap().unwrap();
    assert_eq!(created.version, 1);
    assert_eq!(created.n("attempts"), Some(3));
    assert_eq!(created.n("expires_at"), Some(1_900_000_000));

    let value = store
        .increment(&key, "attempts", -1, Some(1_900_000_600))
        .await
        .unwrap();
    assert_eq!(value, 2);
    let updated = store.get(&key).await.unwrap().unwrap();
    assert_eq!(updated.n("expires_at"), Some(1_900_000_600));
}

pub(super) async fn an_increment_keeps_the_other_attributes_and_the_version(store: &Fixture) {
    let pk = partition();
    let user = item(&pk, "USER#1")
        .with("failed_logins", Attr::N(4))
        .with_version(5);
    store.put(user.clone(), Condition::None).await.unwrap();
    let value = store
        .increment(&user.key, "failed_logins", 1, None)
        .await
        .unwrap();
    assert_eq!(value, 5);
    let expected = user.with("failed_logins", Attr::N(5));
    assert_eq!(store.get(&expected.key).await.unwrap(), Some(expected));
}

pub(super) async fn incrementing_a_non_numeric_attribute_is_invalid(store: &Fixture) {
    let pk = partition();
    let user = item(&pk, "USER#1");
    store.put(user.clone(), Condition::None).await.unwrap();
    let refused = store.increment(&user.key, "name", 1, None).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(store.get(&user.key).await.unwrap(), Some(user));
}
