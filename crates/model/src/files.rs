//! File helpers for secrets kept under the data directory.

use std::io::Write;
use std::path::Path;

/// Writes a file only its owner can read, replacing any earlier one atomically.
pub fn write_private(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let tmp = path.with_extension(format!("tmp-{}", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(&tmp)?;
    file.write_all(contents)?;
    file.sync_all()?;
    std::fs::rename(&tmp, path)
}

/// Writes a file that does not exist yet, owner-only: true if written, false if a file was
/// already there (it is left as it was: evidence is never overwritten).
pub fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<bool> {
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    match options.open(path) {
        Ok(mut file) => {
            file.write_all(contents)?;
            file.sync_all()?;
            Ok(true)
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(false),
        Err(e) => Err(e),
    }
}

/// Makes `path` a file only its owner can read or write: created empty if missing, its
/// mode (and that of SQLite's `-wal` and `-shm` beside it) tightened if looser.
///
/// An existing file is never opened here, only chmod-ed: closing any descriptor of a SQLite
/// file drops every POSIX lock this process holds on it, which would let another of its
/// connections write under a reader.
pub fn own_file_only(path: &Path) -> std::io::Result<()> {
    if !path.exists() {
        let mut options = std::fs::OpenOptions::new();
        options.write(true).create_new(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        match options.open(path) {
            Ok(file) => drop(file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
    }
    #[cfg(unix)]
    for suffix in ["", "-wal", "-shm"] {
        use std::os::unix::fs::PermissionsExt;
        let file = std::path::PathBuf::from(format!("{}{suffix}", path.display()));
        match std::fs::metadata(&file) {
            Ok(m) if m.permissions().mode() & 0o077 != 0 => {
                std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))?
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// The data directory: created owner-only if missing; if it exists with access for others,
/// tightened to owner-only (true is returned so the operator can be told), or refused when
/// that is not possible.
pub fn private_data_dir(path: &Path) -> std::io::Result<bool> {
    if !path.is_dir() {
        create_private_dir(path)?;
        return Ok(false);
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(path)?.permissions().mode();
        if mode & 0o077 != 0 {
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700)).map_err(
                |e| {
                    std::io::Error::new(
                        e.kind(),
                        format!(
                        "it is open to other users (mode {:o}) and cannot be made owner-only: {e}",
                        mode & 0o777
                    ),
                    )
                },
            )?;
            return Ok(true);
        }
    }
    Ok(false)
}

/// Creates a directory (and its parents) that only its owner may enter, if it is missing.
/// An existing directory keeps the permissions its operator gave it.
pub fn create_private_dir(path: &Path) -> std::io::Result<()> {
    if path.is_dir() {
        return Ok(());
    }
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(path)
}
