//! The registry walked: every entity's key builds and parses itself, no two entities
//! can be mistaken for each other, and each has its place in the sweep, closure and
//! export.

use std::collections::BTreeSet;

use super::*;

fn sample_tenant() -> TenantId {
    match Entity::Tenant.sample().pk.strip_prefix("TENANT#") {
        Some(id) => TenantId::parse(id).expect("the sample tenant id parses"),
        None => panic!("the tenant entity lives in a tenant partition"),
    }
}

fn sample_integration() -> IntegrationId {
    IntegrationKey::parse(&Entity::Integration.sample())
        .expect("the sample integration key parses")
        .integration
}

#[test]
fn every_sample_key_round_trips_through_its_parser() {
    for entity in ENTITIES {
        let sample = entity.sample();
        assert_eq!(
            entity.reparse(&sample).as_ref(),
            Some(&sample),
            "{entity:?}: {sample:?}"
        );
    }
}

#[test]
fn no_key_of_one_entity_parses_as_another() {
    for entity in ENTITIES {
        for other in ENTITIES.into_iter().filter(|o| *o != entity) {
            assert_eq!(
                other.reparse(&entity.sample()),
                None,
                "a key of {entity:?} parses as {other:?}"
            );
        }
    }
}

#[test]
fn names_and_key_shapes_are_unique_and_every_entity_is_listed_once() {
    let names: BTreeSet<_> = ENTITIES.iter().map(|e| e.spec().name).collect();
    assert_eq!(names.len(), ENTITIES.len());
    let shapes: BTreeSet<_> = ENTITIES.iter().map(|e| e.spec().key).collect();
    assert_eq!(shapes.len(), ENTITIES.len());
    let entities: BTreeSet<_> = ENTITIES.iter().collect();
    assert_eq!(entities.len(), ENTITIES.len());
}

#[test]
fn the_scope_says_whose_partition_a_key_is_in() {
    let tenant = sample_tenant();
    for entity in ENTITIES {
        let sample = entity.sample();
        // The tenant's own partition, or one of its shards.
        let in_tenant =
            crate::repos::shards::tenant_and_shard(&sample.pk).is_some_and(|(of, _)| of == tenant);
        assert_eq!(
            in_tenant,
            entity.spec().scope == Scope::Tenant,
            "{entity:?}: {sample:?}"
        );
        let shape = entity.spec().key;
        assert_eq!(
            shape.starts_with("TENANT#<tenant> / ")
                || shape.starts_with("TENANT#<tenant>[#S<shard>] / "),
            in_tenant,
            "{entity:?}"
        );
    }
}

#[test]
fn the_sweep_of_an_integration_deletes_its_own_items_and_nothing_else() {
    let (tenant, integration) = (sample_tenant(), sample_integration());
    for entity in ENTITIES {
        let selection = entity.of_integration(&tenant, &integration);
        assert_eq!(
            selection.is_some(),
            entity.spec().sweep != Sweep::NotPerIntegration,
            "{entity:?}: its place in the sweep and its selection disagree"
        );
        let Some(selection) = selection else {
            continue;
        };
        assert!(selection.contains(&entity.sample()), "{entity:?}");
        for other in ENTITIES.into_iter().filter(|o| *o != entity) {
            assert!(
                !selection.contains(&other.sample()),
                "the sweep of {entity:?} would delete {other:?}"
            );
        }
    }
    // Data first, the entry that leads to it last.
    for stage in [Sweep::IntegrationData, Sweep::IntegrationEntry] {
        assert!(!of_integration(stage, &tenant, &integration).is_empty());
    }
    assert_eq!(Entity::Integration.spec().sweep, Sweep::IntegrationEntry);
    assert_eq!(
        Entity::IntegrationIndex.spec().sweep,
        Sweep::IntegrationEntry
    );
}

#[test]
fn every_tenant_entity_is_erased_by_closure_or_kept_for_a_reason() {
    for entity in ENTITIES {
        let closure = entity.spec().closure;
        match entity.spec().scope {
            Scope::Tenant => assert!(
                matches!(
                    closure,
                    Closure::ErasedWithPartition | Closure::Shredded | Closure::KeptBecause(_)
                ),
                "{entity:?} lives in the tenant's partition but is {closure:?}"
            ),
            Scope::Global => assert!(
                !matches!(closure, Closure::ErasedWithPartition | Closure::Shredded),
                "{entity:?} is global: the partition's erasure does not reach it"
            ),
        }
        if let Closure::KeptBecause(reason) | Closure::ExpiresSoon(reason) = closure {
            assert!(!reason.is_empty(), "{entity:?}");
        }
    }
    let shredded: Vec<_> = ENTITIES
        .into_iter()
        .filter(|e| e.spec().closure == Closure::Shredded)
        .collect();
    assert_eq!(shredded, [Entity::DataKey]);
}

#[test]
fn every_global_entity_pointing_at_a_tenant_is_removed_by_closure() {
    let (tenant, integration) = (sample_tenant(), sample_integration());
    let hash = match EmailLookupKey::parse(&Entity::EmailLookup.sample()) {
        Some(key) => key.email_hash,
        None => panic!("the sample lookup parses"),
    };
    let account = StripeAccountKey::parse(&Entity::StripeAccount.sample())
        .expect("the sample account parses")
        .account;
    let found = [
        Found::EmailHash(&hash),
        Found::TokenHash(&hash),
        Found::Integration {
            tenant: &tenant,
            id: &integration,
            account: Some(&account),
        },
    ];
    for entity in ENTITIES {
        let removes: Vec<Selection> = found.iter().filter_map(|f| entity.pointed_by(f)).collect();
        match entity.spec().closure {
            Closure::Removed(via) => {
                let through = found.iter().find(|f| f.via() == via);
                let selection = through.and_then(|f| entity.pointed_by(f));
                assert!(
                    selection.is_some_and(|s| s.contains(&entity.sample())),
                    "closure finds no {entity:?} through {via:?}"
                );
                let all = found.iter().flat_map(pointed_by);
                assert!(all.filter(|s| s.contains(&entity.sample())).count() >= 1);
            }
            other => assert!(
                removes.is_empty(),
                "{entity:?} is {other:?} but closure would delete it"
            ),
        }
    }
    // What the closure reads to find them is itself erased with the partition.
    for via_entity in [Entity::User, Entity::SessionRef, Entity::Integration] {
        assert_eq!(via_entity.spec().closure, Closure::ErasedWithPartition);
    }
}

#[test]
fn the_export_lists_exactly_the_entities_marked_exported() {
    let marked: Vec<Section> = ENTITIES
        .iter()
        .filter_map(|e| match e.spec().export {
            Export::Section(section) => Some(section),
            Export::Omitted(reason) => {
                assert!(!reason.is_empty(), "{e:?} is omitted without a reason");
                None
            }
        })
        .collect();
    let unique: BTreeSet<_> = marked.iter().collect();
    assert_eq!(unique.len(), marked.len(), "two entities in one section");
    assert_eq!(exported_sections().len(), marked.len());
    let names: Vec<&str> = exported_sections().into_iter().map(Section::name).collect();
    assert_eq!(
        names,
        [
            "tenant",
            "users",
            "integrations",
            "audit_log",
            "customers",
            "subscriptions",
            "invoices",
            "payments",
            "refunds",
            "payment_methods"
        ]
    );
}

#[test]
fn items_that_expire_are_registered_with_a_retention() {
    for entity in [
        Entity::Session,
        Entity::SessionRef,
        Entity::LoginAttempt,
        Entity::AuditEntry,
        Entity::RateCounter,
        Entity::Export,
        Entity::ExportPage,
        Entity::ExportRate,
        Entity::WebhookSeen,
        Entity::OperatorSession,
        Entity::SupportGrant,
        Entity::Digest,
    ]
    .into_iter()
    .chain(TokenKind::ALL.map(Entity::Token))
    {
        assert!(
            matches!(entity.spec().retention, Retention::Expires(_)),
            "{entity:?}"
        );
    }
}
