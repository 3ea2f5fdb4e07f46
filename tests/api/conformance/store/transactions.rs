//! Transactions: all of their writes, or none.

use tally::ports::{Attr, Condition, Item, Key, StoreError, WriteOp};

use super::{Fixture, item, partition};

/// A fresh partition holding A, B and C at version 1.
async fn three_items(store: &Fixture) -> (String, [Item; 3]) {
    let pk = partition();
    let items = [item(&pk, "A"), item(&pk, "B"), item(&pk, "C")];
    for existing in &items {
        store
            .put(existing.clone(), Condition::Absent)
            .await
            .unwrap();
    }
    (pk, items)
}

pub(super) async fn a_transaction_with_one_failing_condition_writes_nothing(store: &Fixture) {
    // A failing put and a failing check, each first, in the middle and last: none of
    // the other writes may stay applied.
    for failing_check in [false, true] {
        for failing_at in 0..3 {
            let case = format!("failing check: {failing_check}, at {failing_at}");
            let (pk, [a, b, c]) = three_items(store).await;
            let mut ops = vec![
                WriteOp::Put {
                    item: item(&pk, "A").with("changed", Attr::N(1)).with_version(2),
                    condition: Condition::VersionIs(1),
                },
                WriteOp::Delete {
                    key: b.key.clone(),
                    condition: Condition::Exists,
                },
                WriteOp::Put {
                    item: item(&pk, "D"),
                    condition: Condition::Absent,
                },
            ];
            let failing = if failing_check {
                WriteOp::Check {
                    key: c.key.clone(),
                    condition: Condition::VersionIs(7),
                }
            } else {
                WriteOp::Put {
                    item: item(&pk, "C").with("changed", Attr::N(1)),
                    condition: Condition::Absent,
                }
            };
            ops.insert(failing_at, failing);

            let refused = store.transact(ops).await;
            assert!(
                matches!(refused, Err(StoreError::ConditionFailed)),
                "{case}: {refused:?}"
            );
            assert_eq!(store.get(&a.key).await.unwrap(), Some(a), "{case}");
            assert_eq!(store.get(&b.key).await.unwrap(), Some(b), "{case}");
            assert_eq!(store.get(&c.key).await.unwrap(), Some(c), "{case}");
            let d = Key::new(&pk, "D");
            assert_eq!(store.get(&d).await.unwrap(), None, "{case}");
        }
    }
}

pub(super) async fn a_successful_transaction_applies_its_puts_deletes_and_checks(store: &Fixture) {
    let (pk, [a, b, c]) = three_items(store).await;
    let new_a = item(&pk, "A").with("changed", Attr::N(1)).with_version(2);
    let d = item(&pk, "D").with("created", Attr::B(vec![1, 2, 3]));
    let ops = vec![
        WriteOp::Put {
            item: new_a.clone(),
            condition: Condition::VersionIs(1),
        },
        WriteOp::Delete {
            key: b.key.clone(),
            condition: Condition::Exists,
        },
        WriteOp::Check {
            key: c.key.clone(),
            condition: Condition::VersionIs(1),
        },
        WriteOp::Put {
            item: d.clone(),
            condition: Condition::Absent,
        },
    ];
    store.transact(ops).await.unwrap();
    assert_eq!(store.get(&a.key).await.unwrap(), Some(new_a));
    assert_eq!(store.get(&b.key).await.unwrap(), None);
    assert_eq!(store.get(&c.key).await.unwrap(), Some(c));
    assert_eq!(store.get(&d.key).await.unwrap(), Some(d));
}

pub(super) async fn a_transaction_of_more_than_one_hundred_writes_is_invalid(store: &Fixture) {
    let pk = partition();
    let ops: Vec<WriteOp> = (0..101)
        .map(|i| WriteOp::Put {
            item: item(&pk, &format!("ITEM#{i:03}")),
            condition: Condition::None,
        })
        .collect();
    let refused = store.transact(ops).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(store.get(&Key::new(&pk, "ITEM#000")).await.unwrap(), None);

    let hundred: Vec<WriteOp> = (0..100)
        .map(|i| WriteOp::Put {
            item: item(&pk, &format!("ITEM#{i:03}")),
            condition: Condition::Absent,
        })
        .collect();
    store.transact(hundred).await.unwrap();
    assert!(
        store
            .get(&Key::new(&pk, "ITEM#099"))
            .await
            .unwrap()
            .is_some()
    );
}

pub(super) async fn a_transaction_writing_one_key_twice_is_invalid(store: &Fixture) {
    let pk = partition();
    let ops = vec![
        WriteOp::Put {
            item: item(&pk, "A"),
            condition: Condition::None,
        },
        WriteOp::Check {
            key: Key::new(&pk, "A"),
            condition: Condition::None,
        },
    ];
    let refused = store.transact(ops).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
    assert_eq!(store.get(&Key::new(&pk, "A")).await.unwrap(), None);
}

pub(super) async fn an_empty_transaction_is_invalid(store: &Fixture) {
    let refused = store.transact(Vec::new()).await;
    assert!(
        matches!(refused, Err(StoreError::Invalid(_))),
        "{refused:?}"
    );
}
