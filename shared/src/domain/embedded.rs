//! Data files compiled into the crate (`shared/data/`), deflated by `shared/build.rs`
//! so that a Lambda bootstrap carries ~0.6 MB rather than ~2.2 MB of text; each is
//! inflated once per process, on first use. Pure: the bytes are in the binary.

use std::io::Read;

/// The deflated bytes of `data/<name>`, as `build.rs` wrote them.
macro_rules! deflated {
    ($name:literal) => {
        include_bytes!(concat!(env!("OUT_DIR"), "/", $name, ".deflate"))
    };
}
pub(crate) use deflated;

/// The text of a file [`deflated!`] included. Fails only if the bytes are not what
/// `build.rs` wrote (a unit test inflates every file).
pub(crate) fn inflate(deflated: &[u8]) -> std::io::Result<String> {
    let mut text = String::new();
    flate2::read::DeflateDecoder::new(deflated).read_to_string(&mut text)?;
    Ok(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_embedded_file_inflates_to_its_source_text() {
        for (deflated, source) in [
            (
                &deflated!("eurofxref-hist.csv")[..],
                include_str!("../../data/eurofxref-hist.csv"),
            ),
            (
                &deflated!("common-passwords.txt")[..],
                include_str!("../../data/common-passwords.txt"),
            ),
        ] {
            assert!(deflated.len() < source.len());
            assert_eq!(inflate(deflated).unwrap(), source);
        }
    }
}
