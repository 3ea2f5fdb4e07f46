//! The KeyService conformance suite: data keys open only under their own context.

use tally::ports::{EncryptionContext, KeyError, KeyService, WrappedKey};
use tally_tests::Subject;

/// Instantiates the suite: `keys_conformance!(adapter_name, factory_expression)`,
/// the factory yielding a fresh `tally_tests::Subject<dyn KeyService>`.
macro_rules! keys_conformance {
    ($adapter:ident, $factory:expr) => {
        mod $adapter {
            conformance_cases!($factory;
                a_generated_data_key_decrypts_to_the_same_bytes_under_its_context,
                decrypting_under_another_tenants_context_is_refused,
                a_tampered_wrapped_key_is_refused,
                two_generated_data_keys_differ,
                a_wrapped_key_does_not_contain_its_plain_key,
            );
        }
    };
}

type Fixture = Subject<dyn KeyService>;

/// The context of a tenant no other test uses.
fn tenant_context() -> EncryptionContext {
    EncryptionContext::tenant(&super::unique("tenant-"))
}

async fn a_generated_data_key_decrypts_to_the_same_bytes_under_its_context(keys: &Fixture) {
    let context = tenant_context();
    let (plain, wrapped) = keys.generate_data_key(&context).await.unwrap();
    let opened = keys.decrypt_data_key(&wrapped, &context).await.unwrap();
    assert_eq!(opened.expose_bytes(), plain.expose_bytes());
    let again = keys.decrypt_data_key(&wrapped, &context).await.unwrap();
    assert_eq!(again.expose_bytes(), plain.expose_bytes());
}

async fn decrypting_under_another_tenants_context_is_refused(keys: &Fixture) {
    let (_, wrapped) = keys.generate_data_key(&tenant_context()).await.unwrap();
    let refused = keys.decrypt_data_key(&wrapped, &tenant_context()).await;
    assert!(matches!(refused, Err(KeyError::Refused)), "{refused:?}");
}

async fn a_tampered_wrapped_key_is_refused(keys: &Fixture) {
    let context = tenant_context();
    let (_, wrapped) = keys.generate_data_key(&context).await.unwrap();
    let length = wrapped.0.len();
    for position in [length - 1, length / 2] {
        let mut tampered = wrapped.0.clone();
        tampered[position] ^= 0x01;
        let refused = keys.decrypt_data_key(&WrappedKey(tampered), &context).await;
        assert!(
            matches!(refused, Err(KeyError::Refused)),
            "byte {position}: {refused:?}"
        );
    }
    let truncated = WrappedKey(wrapped.0[..length - 1].to_vec());
    let refused = keys.decrypt_data_key(&truncated, &context).await;
    assert!(
        matches!(refused, Err(KeyError::Refused)),
        "truncated: {refused:?}"
    );
}

async fn two_generated_data_keys_differ(keys: &Fixture) {
    let context = tenant_context();
    let (one, wrapped_one) = keys.generate_data_key(&context).await.unwrap();
    let (two, wrapped_two) = keys.generate_data_key(&context).await.unwrap();
    assert_ne!(one.expose_bytes(), two.expose_bytes());
    assert_ne!(wrapped_one, wrapped_two);
}

async fn a_wrapped_key_does_not_contain_its_plain_key(keys: &Fixture) {
    let (plain, wrapped) = keys.generate_data_key(&tenant_context()).await.unwrap();
    let key = plain.expose_bytes();
    // Not whole, and not even its first half.
    assert!(!wrapped.0.windows(16).any(|window| window == &key[..16]));
}

keys_conformance!(embedded, tally_tests::embedded::keys());
keys_conformance!(kms, tally_tests::moto::keys());
