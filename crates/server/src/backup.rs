//! `iro-advice backup` and `iro-advice restore`, for SQLite: a consistent copy taken while
//! the service runs, checked as `log verify` checks, and its return — refused when it would
//! roll the log back behind what the database in place or a witness has seen, unless the
//! operator says so. PostgreSQL is backed up with `pg_dump` (the book's backups chapter).
//!
//! Keys are not in the database and not in the copy: they are backed up apart.

use std::path::{Path, PathBuf};

use crate::config::{DatabaseSettings, DatabaseUrl, Settings};
use crate::db::{Database, DbConnection};
use crate::log::note::Verifier;

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} already exists: a backup never overwrites a file")]
    Exists(PathBuf),
    #[error("{path}: {error}", path = .0.display(), error = .1)]
    File(PathBuf, std::io::Error),
    #[error(
        "this deployment runs on PostgreSQL: back it up with pg_dump and restore it with \
         pg_restore (see the book's backups chapter)"
    )]
    Postgres,
    #[error("{0}")]
    Database(String),
    #[error("the copy is not a sound log: {0}")]
    Unsound(String),
    #[error(
        "restoring {from} would roll the request log back: {evidence}. Every act logged \
         after it (requests for advice, pressure reports) would be gone, and every client and \
         witness that saw the newer log would detect it. Restore it only if that is what you \
         mean, with --accept-rollback"
    )]
    Rollback { from: String, evidence: String },
}

/// What a copy holds.
#[derive(Debug)]
pub struct Copied {
    pub leaves: u64,
    pub checkpoints: u64,
    pub bytes: u64,
}

fn sqlite_path(settings: &Settings) -> Result<&Path, BackupError> {
    match settings.database.url() {
        DatabaseUrl::Sqlite(path) => Ok(path),
        DatabaseUrl::Postgres(_) => Err(BackupError::Postgres),
    }
}

fn open(settings: &DatabaseSettings, path: &Path) -> Result<Database, BackupError> {
    let settings = DatabaseSettings {
        url: Some(DatabaseUrl::Sqlite(path.to_owned())),
        pool_size: 1,
        ..settings.clone()
    };
    Database::connect(&settings).map_err(|e| BackupError::Database(e.to_string()))
}

/// Checks a copy as `log verify` checks the database: SQLite's own integrity check, then
/// every leaf and checkpoint of the log.
fn check(conn: &mut DbConnection, verifier: &Verifier) -> Result<(u64, u64), BackupError> {
    use diesel::RunQueryDsl;
    #[derive(diesel::QueryableByName)]
    struct Integrity {
        #[diesel(sql_type = diesel::sql_types::Text)]
        integrity_check: String,
    }
    let found: Vec<Integrity> = diesel::sql_query("PRAGMA integrity_check")
        .load(conn)
        .map_err(|e| BackupError::Unsound(e.to_string()))?;
    if found.first().map(|r| r.integrity_check.as_str()) != Some("ok") {
        return Err(BackupError::Unsound(
            found
                .into_iter()
                .map(|r| r.integrity_check)
                .collect::<Vec<_>>()
                .join("; "),
        ));
    }
    let report = crate::log::verify::verify(conn, verifier)
        .map_err(|e| BackupError::Unsound(e.to_string()))?;
    Ok((report.leaves, report.checkpoints))
}

fn copied(path: &Path, leaves: u64, checkpoints: u64) -> Result<Copied, BackupError> {
    let bytes = std::fs::metadata(path)
        .map_err(|e| BackupError::File(path.to_owned(), e))?
        .len();
    Ok(Copied {
        leaves,
        checkpoints,
        bytes,
    })
}

/// A SQLite file's write-ahead log and shared-memory index.
fn remove_sidecars(database: &Path) {
    for suffix in ["-wal", "-shm"] {
        let mut side = database.as_os_str().to_owned();
        side.push(suffix);
        let _ = std::fs::remove_file(PathBuf::from(side));
    }
}

/// Copies the live database to `out` (which must not exist), owner-only, and checks it.
pub fn backup(settings: &Settings, verifier: &Verifier, out: &Path) -> Result<Copied, BackupError> {
    let db = sqlite_path(settings)?;
    // Opening would create an empty database where there is none.
    if !db.is_file() {
        return Err(BackupError::File(
            db.to_owned(),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    let live = open(&settings.database, db)?;
    // Made first, empty and owner-only, so the copy is never readable by others, even for
    // the moment before SQLite writes it.
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(out)
    {
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            return Err(BackupError::Exists(out.to_owned()))
        }
        Err(e) => return Err(BackupError::File(out.to_owned(), e)),
    }
    iro_advice_model::files::own_file_only(out)
        .map_err(|e| BackupError::File(out.to_owned(), e))?;
    let result = (|| {
        use diesel::RunQueryDsl;
        let target = out
            .to_str()
            .ok_or_else(|| BackupError::Database("the path is not UTF-8".into()))?
            .replace('\'', "''");
        // One read transaction: what every leaf, row and blob was at one instant, while the
        // service goes on writing (WAL).
        let mut conn = live
            .get()
            .map_err(|e| BackupError::Database(e.to_string()))?;
        diesel::sql_query(format!("VACUUM INTO '{target}'"))
            .execute(&mut *conn)
            .map_err(|e| BackupError::Database(e.to_string()))?;
        let copy = open(&settings.database, out)?;
        let (leaves, checkpoints) = check(
            &mut *copy
                .get()
                .map_err(|e| BackupError::Database(e.to_string()))?,
            verifier,
        )?;
        copied(out, leaves, checkpoints)
    })();
    if result.is_err() {
        // No half copy left to be mistaken for a backup.
        let _ = std::fs::remove_file(out);
    }
    result
}

/// Why restoring a log of `leaves` would roll it back, if it would: the database in place
/// holds more, or a witness has cosigned more. Each witness is asked.
fn rollback_evidence(
    settings: &Settings,
    leaves: u64,
    note: &str,
    in_place: Option<u64>,
) -> Vec<String> {
    let mut evidence = Vec::new();
    if let Some(current) = in_place.filter(|c| *c > leaves) {
        evidence.push(format!(
            "the database in place holds {current} leaves and the backup {leaves}"
        ));
    }
    let witnesses = settings.witnesses.list();
    if witnesses.is_empty() {
        return evidence;
    }
    let ca = settings
        .witnesses
        .ca
        .as_ref()
        .and_then(|path| std::fs::read(path).ok());
    let asked = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| e.to_string())
        .and_then(|rt| {
            let http =
                iro_advice_tlog::https::client(ca.as_deref(), std::time::Duration::from_secs(10))?;
            Ok(rt.block_on(async {
                let mut answers = Vec::new();
                for w in &witnesses {
                    answers.push((
                        w.key.clone(),
                        crate::log::witnessing::held_size(&http, &w.url, note).await,
                    ));
                }
                answers
            }))
        });
    match asked {
        Ok(answers) => {
            for (key, answer) in answers {
                let name = key.split('+').next().unwrap_or_default().to_owned();
                match answer {
                    Ok(Some(held)) if held > leaves => evidence.push(format!(
                        "the witness {name} has cosigned a tree of {held} leaves and the \
                         backup holds {leaves}"
                    )),
                    Ok(_) => {}
                    Err(e) => evidence.push(format!(
                        "the witness {name} could not be asked what it holds ({e})"
                    )),
                }
            }
        }
        Err(e) => evidence.push(format!("the witnesses could not be asked ({e})")),
    }
    evidence
}

/// Puts the copy `from` in place of the database (the service stopped), after checking it
/// and asking whether it rolls the log back.
pub fn restore(
    settings: &Settings,
    verifier: &Verifier,
    from: &Path,
    accept_rollback: bool,
) -> Result<Copied, BackupError> {
    let target = sqlite_path(settings)?.to_owned();
    if !from.is_file() {
        return Err(BackupError::File(
            from.to_owned(),
            std::io::Error::from(std::io::ErrorKind::NotFound),
        ));
    }
    // Checked as a copy of its own, so the original backup is never written to.
    let dir = target
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).map_err(|e| BackupError::File(dir.to_owned(), e))?;
    let staged = dir.join(format!(
        ".{}.restoring",
        target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    ));
    let _ = std::fs::remove_file(&staged);
    std::fs::copy(from, &staged).map_err(|e| BackupError::File(staged.clone(), e))?;
    let result = (|| {
        iro_advice_model::files::own_file_only(&staged)
            .map_err(|e| BackupError::File(staged.clone(), e))?;
        let (leaves, checkpoints, note) = {
            let copy = open(&settings.database, &staged)?;
            let mut conn = copy
                .get()
                .map_err(|e| BackupError::Database(e.to_string()))?;
            let (leaves, checkpoints) = check(&mut conn, verifier)?;
            let note = crate::log::store::latest_checkpoint(&mut conn)
                .map_err(|e| BackupError::Database(e.to_string()))?
                .map(|c| c.note)
                .unwrap_or_default();
            (leaves, checkpoints, note)
        };
        let in_place = if target.is_file() {
            let current = open(&settings.database, &target)?;
            let mut conn = current
                .get()
                .map_err(|e| BackupError::Database(e.to_string()))?;
            crate::log::store::size(&mut conn).ok()
        } else {
            None
        };
        let evidence = rollback_evidence(settings, leaves, &note, in_place);
        if !evidence.is_empty() && !accept_rollback {
            return Err(BackupError::Rollback {
                from: from.display().to_string(),
                evidence: evidence.join("; "),
            });
        }
        for evidence in &evidence {
            tracing::warn!(%evidence, "restoring a backup that rolls the log back, as asked");
        }
        // The old database's write-ahead log belongs to it, not to the copy.
        remove_sidecars(&target);
        std::fs::rename(&staged, &target).map_err(|e| BackupError::File(target.clone(), e))?;
        copied(&target, leaves, checkpoints)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&staged);
        remove_sidecars(&staged);
    }
    result
}
