//! Envelope encryption, end to end on the embedded adapters: tenant data keys stored
//! only wrapped, records sealed to their place, and no plaintext in the raw files.

use std::sync::Arc;

use tally::adapters::embedded;
use tally::domain::ids::TenantId;
use tally::ports::{Condition, SystemClock, WriteOp};
use tally::services::vault::{TenantKeys, VaultError, open_record, seal_record};

const SECRET_EMAIL: &str = "jane.doe.sealed@example.com";

#[derive(serde::Serialize, serde::Deserialize, Debug, PartialEq)]
struct Customer {
    email: String,
    city: String,
}

fn customer() -> Customer {
    Customer {
        email: SECRET_EMAIL.into(),
        city: "Wuppertal-Elberfeld".into(),
    }
}

#[tokio::test]
async fn the_data_file_holds_no_plaintext_of_sealed_values_and_no_plain_data_key() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let opened = embedded::open(&data, "tally", Arc::new(SystemClock)).unwrap();
    let store = opened.adapters.store.clone();
    let keys = TenantKeys::new(
        store.clone(),
        opened.adapters.keys.clone(),
        std::time::Duration::ZERO,
    );
    let tenant = TenantId::generate();
    let (data_key, key_write) = keys.create(&tenant).await.unwrap();
    store.transact(vec![key_write.into()]).await.unwrap();

    let key = tally::ports::Key::new(tenant.partition(), "CUST#cus_1");
    let item = seal_record("tally", &data_key, key.clone(), &customer()).unwrap();
    store.put(item, Condition::Absent).await.unwrap();

    // Read back through a fresh unwrap of the stored key (TTL zero: no cache).
    let fetched = store.get(&key).await.unwrap().unwrap();
    let again = keys.data_key(&tenant).await.unwrap();
    assert_eq!(
        open_record::<Customer>("tally", &again, &fetched).unwrap(),
        customer()
    );

    opened.store.compact().await.unwrap();
    let mut raw = Vec::new();
    for entry in std::fs::read_dir(&data).unwrap() {
        raw.extend(std::fs::read(entry.unwrap().path()).unwrap());
    }
    let contains = |needle: &[u8]| raw.windows(needle.len()).any(|w| w == needle);
    assert!(
        !contains(SECRET_EMAIL.as_bytes()),
        "sealed e-mail found in plain"
    );
    assert!(
        !contains(b"Wuppertal-Elberfeld"),
        "sealed city found in plain"
    );
    assert!(
        !contains(data_key.expose_bytes()),
        "the plain data key is on disk"
    );
}

#[tokio::test]
async fn a_record_copied_to_another_item_or_tenant_does_not_open() {
    let dir = tempfile::tempdir().unwrap();
    let opened = embedded::open(&dir.path().join("d"), "tally", Arc::new(SystemClock)).unwrap();
    let store = opened.adapters.store.clone();
    let keys = TenantKeys::new(
        store.clone(),
        opened.adapters.keys.clone(),
        std::time::Duration::from_secs(60),
    );
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let (key_a, write_a) = keys.create(&a).await.unwrap();
    let (_, write_b) = keys.create(&b).await.unwrap();
    store
        .transact(vec![write_a.into(), write_b.into()])
        .await
        .unwrap();

    let original = seal_record(
        "tally",
        &key_a,
        tally::ports::Key::new(a.partition(), "CUST#1"),
        &customer(),
    )
    .unwrap();
    let sealed = original.b("data").unwrap().to_vec();

    let mut moved = original.clone();
    moved.key.sk = "CUST#2".into();
    assert!(matches!(
        open_record::<Customer>("tally", &key_a, &moved),
        Err(VaultError::Corrupt)
    ));

    let mut other_tenant = original.clone();
    other_tenant.key.pk = b.partition();
    let key_b = keys.data_key(&b).await.unwrap();
    assert!(open_record::<Customer>("tally", &key_b, &other_tenant).is_err());
    assert!(open_record::<Customer>("tally", &key_a, &other_tenant).is_err());

    let mut tampered = original.clone();
    let mut bytes = sealed.clone();
    let last = bytes.len() - 1;
    bytes[last] ^= 0x80;
    tampered
        .attrs
        .insert("data".into(), tally::ports::Attr::B(bytes));
    assert!(open_record::<Customer>("tally", &key_a, &tampered).is_err());
}

#[tokio::test]
async fn a_wrapped_data_key_does_not_open_under_another_tenant() {
    let dir = tempfile::tempdir().unwrap();
    let opened = embedded::open(&dir.path().join("d"), "tally", Arc::new(SystemClock)).unwrap();
    let store = opened.adapters.store.clone();
    let keys = TenantKeys::new(
        store.clone(),
        opened.adapters.keys.clone(),
        std::time::Duration::ZERO,
    );
    let (a, b) = (TenantId::generate(), TenantId::generate());
    let (_, write_a) = keys.create(&a).await.unwrap();
    // Copy A's wrapped key into B's place: unwrapping it under B's context must fail.
    let WriteOp::Put { mut item, .. } = write_a.into() else {
        unreachable!()
    };
    item.key.pk = b.partition();
    store.put(item, Condition::Absent).await.unwrap();
    assert!(keys.data_key(&b).await.is_err());
    assert!(matches!(
        keys.data_key(&TenantId::generate()).await,
        Err(VaultError::NoKey)
    ));
}
