//! Compresses the data files the crate embeds (`data/`): the ECB's rate history (1.9 MB
//! of CSV) and the common-password list would otherwise sit uncompressed in every
//! Lambda bootstrap that reaches them. Each is deflated into `OUT_DIR` and included from
//! there (`domain::embedded` inflates it once, on first use); the readable files stay
//! the source in the repository.

use std::io::Write;
use std::path::PathBuf;

const FILES: [&str; 2] = ["eurofxref-hist.csv", "common-passwords.txt"];

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").ok_or("OUT_DIR is not set")?);
    for name in FILES {
        let source = format!("data/{name}");
        println!("cargo::rerun-if-changed={source}");
        let raw = std::fs::read(&source)?;
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::best());
        encoder.write_all(&raw)?;
        std::fs::write(out.join(format!("{name}.deflate")), encoder.finish()?)?;
    }
    Ok(())
}
