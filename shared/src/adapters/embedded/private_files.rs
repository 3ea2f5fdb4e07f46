//! Files only the owner may read: the data directory (0700) and everything in it that
//! holds keys, secrets or data (0600).
//!
//! Permissions are set when a file is created (`mode` on open, so there is no moment
//! at which a fresh key file is world-readable) rather than fixed afterwards. Key files
//! are additionally checked on every open: a key that others could have read is not a
//! secret any more, so it is refused instead of silently tightened.

use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

use super::EmbeddedError;

/// Creates `dir` (and missing parents) with mode 0700; an existing directory is kept.
pub(crate) fn create_private_dir(dir: &Path) -> Result<(), EmbeddedError> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder
        .create(dir)
        .map_err(|error| EmbeddedError::io("create the directory", dir, error))
}

/// Open options that create a file as 0600 (on unix; elsewhere the platform default).
pub(crate) fn private_options() -> OpenOptions {
    let mut options = OpenOptions::new();
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    options
}

/// Creates `path` if it does not exist yet, as an empty 0600 file.
pub(crate) fn touch_private(path: &Path) -> Result<(), EmbeddedError> {
    private_options()
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
        .map(drop)
        .map_err(|error| EmbeddedError::io("create", path, error))
}

/// Refuses a file that group or others may access in any way (unix).
pub(crate) fn ensure_owner_only(file: &File, path: &Path) -> Result<(), EmbeddedError> {
    let metadata = file
        .metadata()
        .map_err(|error| EmbeddedError::io("inspect", path, error))?;
    if !metadata.is_file() {
        return Err(EmbeddedError::NotAFile {
            path: path.to_owned(),
        });
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = metadata.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(EmbeddedError::InsecurePermissions {
                path: path.to_owned(),
                mode,
            });
        }
    }
    Ok(())
}

/// Makes a rename or creation inside `dir` durable (unix: fsync the directory).
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()?;
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// The directory a file lives in (`.` for a bare file name).
pub(crate) fn parent_dir(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_owned(),
        _ => PathBuf::from("."),
    }
}
