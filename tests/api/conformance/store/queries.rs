//! Queries of one partition: selections, order, pages and cursors.

use tally::ports::{Condition, Cursor, Query, SortKeys, StoreError};

use super::{Fixture, item, partition, sort_keys};

/// A fresh partition holding items with these sort keys.
async fn partition_with(store: &Fixture, sort_keys: &[&str]) -> String {
    let pk = partition();
    for sk in sort_keys {
        store.put(item(&pk, sk), Condition::None).await.unwrap();
    }
    pk
}

const MIXED: [&str; 6] = ["INV#1", "CUST#b", "CUST$x", "CUST#a", "CUSS#z", "CUST#c"];

pub(super) async fn a_prefix_query_returns_only_that_prefix_in_sort_key_order(store: &Fixture) {
    let pk = partition_with(store, &MIXED).await;
    let page = store
        .query(Query::new(&pk, SortKeys::prefix("CUST#")))
        .await
        .unwrap();
    assert_eq!(sort_keys(&page.items), ["CUST#a", "CUST#b", "CUST#c"]);
    assert!(page.items.iter().all(|found| found.key.pk == pk));
    assert_eq!(page.items[0], item(&pk, "CUST#a"));
    assert_eq!(page.next_cursor, None);
}

pub(super) async fn a_reverse_query_returns_the_highest_sort_key_first(store: &Fixture) {
    let pk = partition_with(store, &MIXED).await;
    let query = Query::new(&pk, SortKeys::prefix("CUST#")).reverse();
    let page = store.query(query).await.unwrap();
    assert_eq!(sort_keys(&page.items), ["CUST#c", "CUST#b", "CUST#a"]);
    let all = store
        .query(Query::new(&pk, SortKeys::All).reverse())
        .await
        .unwrap();
    assert_eq!(
        sort_keys(&all.items),
        ["INV#1", "CUST$x", "CUST#c", "CUST#b", "CUST#a", "CUSS#z"]
    );
}

pub(super) async fn a_between_query_includes_both_bounds(store: &Fixture) {
    let pk = partition_with(store, &MIXED).await;
    let query = Query::new(&pk, SortKeys::between("CUST#b", "INV#1"));
    let page = store.query(query).await.unwrap();
    assert_eq!(
        sort_keys(&page.items),
        ["CUST#b", "CUST#c", "CUST$x", "INV#1"]
    );
    let reversed = Query::new(&pk, SortKeys::between("CUST#b", "INV#1")).reverse();
    let page = store.query(reversed).await.unwrap();
    assert_eq!(
        sort_keys(&page.items),
        ["INV#1", "CUST$x", "CUST#c", "CUST#b"]
    );
}

pub(super) async fn queries_follow_the_byte_order_of_sort_keys(store: &Fixture) {
    // UTF-8 byte order: 'Z' < 'a' < 'z' < '~' < 'é' (C3 A9) < '😀' (F0 9F 98 80).
    let keys = ["K#é", "K#a", "K#😀", "K#Z", "K#~", "K#z", "K$", "K", "J#x"];
    let pk = partition_with(store, &keys).await;
    let page = store
        .query(Query::new(&pk, SortKeys::prefix("K#")))
        .await
        .unwrap();
    assert_eq!(
        sort_keys(&page.items),
        ["K#Z", "K#a", "K#z", "K#~", "K#é", "K#😀"]
    );
    let page = store
        .query(Query::new(&pk, SortKeys::prefix("K#é")))
        .await
        .unwrap();
    assert_eq!(sort_keys(&page.items), ["K#é"]);
    let range = Query::new(&pk, SortKeys::between("K#~", "K#😀"));
    let page = store.query(range).await.unwrap();
    assert_eq!(sort_keys(&page.items), ["K#~", "K#é", "K#😀"]);
}

pub(super) async fn paging_by_two_visits_each_of_five_items_exactly_once(store: &Fixture) {
    let keys = ["ITEM#1", "ITEM#2", "ITEM#3", "ITEM#4", "ITEM#5"];
    let pk = partition_with(store, &keys).await;
    for reverse in [false, true] {
        let (mut visited, mut pages, mut cursor) = (Vec::new(), Vec::new(), None);
        loop {
            let mut query = Query::new(&pk, SortKeys::prefix("ITEM#"))
                .limit(2)
                .after(cursor);
            query.reverse = reverse;
            let page = store.query(query).await.unwrap();
            pages.push(page.items.len());
            visited.extend(page.items.into_iter().map(|found| found.key.sk));
            // Clients hold the cursor as text between requests.
            match page.next_cursor {
                Some(next) => cursor = Some(Cursor::decode(&next.encode()).unwrap()),
                None => break,
            }
            assert!(pages.len() < 10, "paging does not end");
        }
        let mut expected: Vec<String> = keys.iter().map(|sk| sk.to_string()).collect();
        if reverse {
            expected.reverse();
        }
        assert_eq!(visited, expected, "reverse: {reverse}");
        assert_eq!(pages, [2, 2, 1], "reverse: {reverse}");
    }
}

pub(super) async fn a_page_ending_at_the_last_item_has_no_cursor(store: &Fixture) {
    let pk = partition_with(store, &["A#1", "A#2", "A#3", "A#4"]).await;
    let first = store
        .query(Query::new(&pk, SortKeys::All).limit(2))
        .await
        .unwrap();
    assert_eq!(first.next_cursor, Some(Cursor::after_sort_key("A#2")));
    let second = Query::new(&pk, SortKeys::All)
        .limit(2)
        .after(first.next_cursor);
    let second = store.query(second).await.unwrap();
    assert_eq!(sort_keys(&second.items), ["A#3", "A#4"]);
    assert_eq!(second.next_cursor, None);

    let whole = store
        .query(Query::new(&pk, SortKeys::All).limit(4))
        .await
        .unwrap();
    assert_eq!((whole.items.len(), whole.next_cursor), (4, None));
    let empty = store
        .query(Query::new(&pk, SortKeys::prefix("B#")))
        .await
        .unwrap();
    assert_eq!((empty.items.len(), empty.next_cursor), (0, None));
}

pub(super) async fn a_limit_of_zero_returns_one_item(store: &Fixture) {
    let pk = partition_with(store, &["A#1", "A#2", "A#3"]).await;
    let page = store
        .query(Query::new(&pk, SortKeys::All).limit(0))
        .await
        .unwrap();
    assert_eq!(sort_keys(&page.items), ["A#1"]);
    assert_eq!(page.next_cursor, Some(Cursor::after_sort_key("A#1")));
}

pub(super) async fn a_cursor_outside_the_selection_is_refused(store: &Fixture) {
    let pk = partition_with(store, &MIXED).await;
    let cases = [
        (SortKeys::prefix("CUST#"), "INV#1"),
        (SortKeys::prefix("CUST#"), "CUSS#z"),
        (SortKeys::between("CUST#a", "CUST#c"), "CUST#d"),
    ];
    for (sort, outside) in cases {
        let cursor = Some(Cursor::after_sort_key(outside));
        for reverse in [false, true] {
            let mut query = Query::new(&pk, sort.clone()).after(cursor.clone());
            query.reverse = reverse;
            let refused = store.query(query).await;
            assert!(
                matches!(refused, Err(StoreError::InvalidCursor)),
                "{outside}: {refused:?}"
            );
        }
    }
}

pub(super) async fn a_garbage_cursor_does_not_decode(_store: &Fixture) {
    let too_long = "A".repeat(3000);
    // "_w" is valid base64url for the byte 0xFF, which is not UTF-8.
    for garbage in ["", "!!!", "%2F", "a b", "_w", "abc=", too_long.as_str()] {
        let refused = Cursor::decode(garbage);
        assert!(
            matches!(refused, Err(StoreError::InvalidCursor)),
            "{garbage:?}: {refused:?}"
        );
    }
}

pub(super) async fn a_query_never_returns_items_of_another_partition(store: &Fixture) {
    let mine = partition_with(store, &["CUST#1", "CUST#2"]).await;
    let theirs = partition_with(store, &["CUST#1", "CUST#3", "CUST#4"]).await;
    let selections = [
        SortKeys::All,
        SortKeys::prefix("CUST#"),
        SortKeys::between("A", "Z"),
    ];
    for sort in selections {
        let page = store.query(Query::new(&mine, sort.clone())).await.unwrap();
        assert_eq!(sort_keys(&page.items), ["CUST#1", "CUST#2"], "{sort:?}");
        assert!(
            page.items.iter().all(|found| found.key.pk == mine),
            "{sort:?}"
        );
        let page = store
            .query(Query::new(&theirs, sort.clone()).reverse())
            .await
            .unwrap();
        assert_eq!(
            sort_keys(&page.items),
            ["CUST#4", "CUST#3", "CUST#1"],
            "{sort:?}"
        );
    }
}
