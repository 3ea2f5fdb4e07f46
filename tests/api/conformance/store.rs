//! The Store conformance suite: the behaviour `tally::ports::Store` documents, for
//! every adapter. Cases live in `store/`; this file instantiates them per adapter.

mod batches;
mod items;
mod queries;
mod transactions;

use batches::*;
use items::*;
use queries::*;
use transactions::*;

use tally::ports::{Attr, Item, Key, Store};
use tally_tests::Subject;

/// What every case takes: the store under test.
type Fixture = Subject<dyn Store>;

/// Instantiates the suite: `store_conformance!(adapter_name, factory_expression)`,
/// the factory yielding a fresh `tally_tests::Subject<dyn Store>`.
macro_rules! store_conformance {
    ($adapter:ident, $factory:expr) => {
        mod $adapter {
            conformance_cases!($factory;
                getting_a_missing_item_returns_none,
                a_put_item_reads_back_with_every_attribute_kind_and_its_version,
                a_put_without_condition_replaces_the_item,
                a_conditional_put_is_refused_when_the_item_exists,
                a_put_conditioned_on_a_stale_version_is_refused,
                a_put_conditioned_on_the_current_version_is_accepted,
                a_put_conditioned_on_existence_is_refused_when_the_item_is_absent,
                a_put_with_a_reserved_or_malformed_attribute_name_is_invalid,
                a_delete_conditioned_on_a_stale_version_is_refused_and_keeps_the_item,
                a_delete_conditioned_on_the_current_version_removes_the_item,
                deleting_a_missing_item_succeeds_unless_it_must_exist,
                concurrent_increments_all_count_and_return_distinct_values,
                an_increment_creates_a_missing_item_and_sets_its_expiry,
                an_increment_keeps_the_other_attributes_and_the_version,
                incrementing_a_non_numeric_attribute_is_invalid,
                a_prefix_query_returns_only_that_prefix_in_sort_key_order,
                a_reverse_query_returns_the_highest_sort_key_first,
                a_between_query_includes_both_bounds,
                queries_follow_the_byte_order_of_sort_keys,
                paging_by_two_visits_each_of_five_items_exactly_once,
                a_page_ending_at_the_last_item_has_no_cursor,
                a_limit_of_zero_returns_one_item,
                a_cursor_outside_the_selection_is_refused,
                a_garbage_cursor_does_not_decode,
                a_query_never_returns_items_of_another_partition,
                a_transaction_with_one_failing_condition_writes_nothing,
                a_successful_transaction_applies_its_puts_deletes_and_checks,
                a_transaction_of_more_than_one_hundred_writes_is_invalid,
                a_transaction_writing_one_key_twice_is_invalid,
                an_empty_transaction_is_invalid,
                a_batch_of_sixty_puts_reads_back_exactly,
                a_batch_put_replaces_existing_items_whole,
                a_batch_put_naming_one_key_twice_keeps_the_last_item,
                a_batch_delete_removes_existing_keys_and_ignores_missing_ones,
                a_batch_with_an_invalid_item_is_refused_as_put_refuses_it_and_writes_nothing,
                a_batch_spanning_several_partitions_writes_each_item_to_its_own,
                empty_batches_write_nothing_and_succeed,
            );
        }
    };
}

/// A partition key no other test uses.
fn partition() -> String {
    super::unique("TENANT#")
}

/// An item with one string attribute naming it, version 1.
fn item(pk: &str, sk: &str) -> Item {
    Item::new(Key::new(pk, sk)).with("name", Attr::S(sk.to_owned()))
}

fn sort_keys(items: &[Item]) -> Vec<&str> {
    items.iter().map(|item| item.key.sk.as_str()).collect()
}

store_conformance!(embedded, tally_tests::embedded::store());
store_conformance!(dynamodb, tally_tests::moto::store());
