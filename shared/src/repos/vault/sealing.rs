//! Sealing one item's record or bytes for exactly its place, under a tenant's key of a
//! given generation, and opening it again with whichever key of the tenant's ring the
//! value names (see `domain::crypto` for the format).

use serde::Serialize;
use serde::de::DeserializeOwned;
use zeroize::Zeroizing;

use super::{KeyRing, SEALED_ATTR, VaultError};
use crate::domain::crypto::{self, DataKey, SealedAt};
use crate::ports::{Attr, Item, Key};

/// An item at `key` whose `data` attribute is `record` sealed for exactly that place
/// under a tenant's first key (generation 0).
pub fn seal_record<T: Serialize>(
    table: &str,
    data_key: &DataKey,
    key: Key,
    record: &T,
) -> Result<Item, VaultError> {
    seal_record_as(table, (0, data_key), key, record)
}

/// The same under the key of a given generation.
pub fn seal_record_as<T: Serialize>(
    table: &str,
    (generation, data_key): (u32, &DataKey),
    key: Key,
    record: &T,
) -> Result<Item, VaultError> {
    let plain = Zeroizing::new(serde_json::to_vec(record).map_err(|_| VaultError::Corrupt)?);
    Ok(seal_bytes_as(table, (generation, data_key), key, &plain))
}

/// An item at `key` whose `data` attribute is `bytes` sealed for exactly that place:
/// for opaque blobs (snapshot parts and manifest chunks), which JSON would carry as
/// base64, a third larger — and an item's size is what DynamoDB bills.
pub fn seal_bytes(table: &str, data_key: &DataKey, key: Key, bytes: &[u8]) -> Item {
    seal_bytes_as(table, (0, data_key), key, bytes)
}

/// The same under the key of a given generation.
pub fn seal_bytes_as(
    table: &str,
    (generation, data_key): (u32, &DataKey),
    key: Key,
    bytes: &[u8],
) -> Item {
    let at = SealedAt {
        table,
        pk: &key.pk,
        sk: &key.sk,
    };
    let sealed = crypto::seal_generation(data_key, generation, at, bytes);
    Item::new(key).with(SEALED_ATTR, Attr::B(sealed))
}

/// Which key generation sealed `item`'s record; `None` for an item without one.
pub fn sealed_generation(item: &Item) -> Option<u32> {
    crypto::sealed_generation(item.b(SEALED_ATTR)?)
}

/// The plaintext sealed in `item`, for exactly its place.
fn open_plain(
    table: &str,
    data_key: &DataKey,
    item: &Item,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let sealed = item.b(SEALED_ATTR).ok_or(VaultError::Corrupt)?;
    let at = SealedAt {
        table,
        pk: &item.key.pk,
        sk: &item.key.sk,
    };
    crypto::open(data_key, at, sealed).map_err(|_| VaultError::Corrupt)
}

/// The plaintext sealed in `item` under whichever key of `ring` sealed it.
pub fn open_with_ring(
    table: &str,
    ring: &KeyRing,
    item: &Item,
) -> Result<Zeroizing<Vec<u8>>, VaultError> {
    let generation = sealed_generation(item).ok_or(VaultError::Corrupt)?;
    let key = ring.of_generation(generation).ok_or(VaultError::Corrupt)?;
    open_plain(table, key, item)
}

/// The bytes sealed in `item` by [`seal_bytes`].
pub fn open_bytes(table: &str, data_key: &DataKey, item: &Item) -> Result<Vec<u8>, VaultError> {
    Ok(open_plain(table, data_key, item)?.to_vec())
}

/// The record sealed in `item` by [`seal_record`].
pub fn open_record<T: DeserializeOwned>(
    table: &str,
    data_key: &DataKey,
    item: &Item,
) -> Result<T, VaultError> {
    let plain = open_plain(table, data_key, item)?;
    serde_json::from_slice(&plain).map_err(|_| VaultError::Corrupt)
}

/// A JSON record from opened plaintext.
pub fn parse_record<T: DeserializeOwned>(plain: &[u8]) -> Result<T, VaultError> {
    serde_json::from_slice(plain).map_err(|_| VaultError::Corrupt)
}
