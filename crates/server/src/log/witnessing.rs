//! The service's side of witnessing: every new checkpoint is submitted to the configured
//! witnesses (C2SP tlog-witness), their cosignatures are kept, and clients are served the
//! newest checkpoint that a quorum of them cosigned.
//!
//! Submissions are batched by construction: a submitter takes the newest checkpoint when it
//! wakes, so many appends during one round trip cost one submission. A witness that refuses
//! a checkpoint as inconsistent is never argued with: the refusal is the alarm, and it is
//! raised in the service's log and in `/readyz`.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use diesel::prelude::*;
use tokio::sync::Notify;

use iro_advice_tlog::witness::AddCheckpoint;

use super::keys::LogKeys;
use super::store;
use crate::config::{WitnessEndpoint, WitnessSettings};
use crate::db::schema::{log_checkpoints, log_cosignatures};
use crate::db::{now, Database, DbConnection, DbError};
use iro_advice_api::WitnessStatus;
use iro_advice_tlog::cosignature::CosignatureVerifier;
use iro_advice_tlog::merkle;
use iro_advice_tlog::note::Checkpoint;

/// The longest wait between attempts after failures.
const MAX_BACKOFF: Duration = Duration::from_secs(60);
/// Even with nothing new, a submitter looks again this often (another instance may append).
const IDLE_POLL: Duration = Duration::from_secs(5);
const REQUEST_TIMEOUT: Duration = Duration::from_secs(15);
/// How long a submitter waits after an append before submitting, to gather a burst.
const COALESCE: Duration = Duration::from_millis(25);
/// Under sustained appends, at most this many submissions per second to each witness: each
/// costs the witness a flush to disk, which on one machine competes with the log's own.
const MIN_INTERVAL: Duration = Duration::from_millis(100);

/// A checkpoint as served: the log-signed note with the quorum's cosignature lines.
pub struct CosignedCheckpoint {
    pub size: u64,
    pub note: String,
}

/// The configured witnesses and what the submitters have learnt of them.
pub struct Witnessing {
    endpoints: Vec<WitnessEndpoint>,
    quorum: usize,
    status: Mutex<Vec<WitnessStatus>>,
    wake: Notify,
}

impl Witnessing {
    pub fn new(settings: &WitnessSettings) -> Self {
        Witnessing::of(settings.list(), settings.required())
    }

    /// Witnessing by these witnesses, `quorum` of whom must cosign a served checkpoint.
    pub fn of(endpoints: Vec<WitnessEndpoint>, quorum: usize) -> Self {
        Witnessing {
            status: Mutex::new(
                endpoints
                    .iter()
                    .map(|w| WitnessStatus {
                        key: w.key.clone(),
                        cosigned_size: None,
                        problem: None,
                        refused_as_inconsistent: false,
                    })
                    .collect(),
            ),
            endpoints,
            quorum,
            wake: Notify::new(),
        }
    }

    pub fn quorum(&self) -> usize {
        self.quorum
    }

    /// The witnesses' verifier keys, in configuration order.
    pub fn keys(&self) -> Vec<String> {
        self.endpoints.iter().map(|w| w.key.clone()).collect()
    }

    /// The size of the served checkpoint's tree: what proofs handed to clients reach.
    /// Without building the note: one query.
    pub fn served_size(&self, conn: &mut DbConnection) -> QueryResult<u64> {
        if self.quorum == 0 {
            return store::size(conn);
        }
        Ok(cosigned_size(conn, &self.keys(), self.quorum)?.unwrap_or(0))
    }

    pub fn is_configured(&self) -> bool {
        !self.endpoints.is_empty()
    }

    /// Called after a write commits: the submitters look for a new checkpoint.
    pub fn appended(&self) {
        self.wake.notify_waiters();
    }

    pub fn status(&self) -> Vec<WitnessStatus> {
        self.status
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn update(&self, index: usize, f: impl FnOnce(&mut WitnessStatus)) {
        let mut all = self.status.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(status) = all.get_mut(index) {
            f(status);
        }
    }

    /// The checkpoint to serve: the newest that a quorum cosigned, or with no witnesses the
    /// newest the log signed. None when no checkpoint has the quorum yet.
    pub fn served(
        &self,
        conn: &mut DbConnection,
        keys: &LogKeys,
    ) -> QueryResult<Option<CosignedCheckpoint>> {
        if self.quorum == 0 {
            return Ok(Some(match store::latest_checkpoint(conn)? {
                Some(latest) => CosignedCheckpoint {
                    size: latest.size as u64,
                    note: latest.note,
                },
                None => CosignedCheckpoint {
                    size: 0,
                    note: empty_checkpoint(keys),
                },
            }));
        }
        cosigned_checkpoint(conn, keys, &self.keys(), self.quorum)
    }
}

/// The signed checkpoint of the empty tree, which no row holds.
pub fn empty_checkpoint(keys: &LogKeys) -> String {
    keys.signer.sign(
        &Checkpoint {
            origin: keys.signer.name().to_owned(),
            size: 0,
            root: merkle::empty_root(),
        }
        .text(),
    )
}

/// The log-signed note at `size` (which only the empty tree lacks a row for).
fn signed_note(conn: &mut DbConnection, keys: &LogKeys, size: u64) -> QueryResult<String> {
    if size == 0 {
        return Ok(empty_checkpoint(keys));
    }
    log_checkpoints::table
        .find(size as i64)
        .select(log_checkpoints::note)
        .first(conn)
}

/// The size of the newest checkpoint cosigned by at least `quorum` of `witnesses`.
fn cosigned_size(
    conn: &mut DbConnection,
    witnesses: &[String],
    quorum: usize,
) -> QueryResult<Option<u64>> {
    let size: Option<i64> = log_cosignatures::table
        .filter(log_cosignatures::witness.eq_any(witnesses))
        .group_by(log_cosignatures::size)
        .having(diesel::dsl::count_star().ge(quorum as i64))
        .select(log_cosignatures::size)
        .order(log_cosignatures::size.desc())
        .first(conn)
        .optional()?;
    Ok(size.map(|s| s as u64))
}

/// The newest checkpoint cosigned by at least `quorum` of `witnesses`, with their lines.
pub fn cosigned_checkpoint(
    conn: &mut DbConnection,
    keys: &LogKeys,
    witnesses: &[String],
    quorum: usize,
) -> QueryResult<Option<CosignedCheckpoint>> {
    let Some(size) = cosigned_size(conn, witnesses, quorum)? else {
        return Ok(None);
    };
    let size = size as i64;
    let lines: Vec<String> = log_cosignatures::table
        .filter(log_cosignatures::size.eq(size))
        .filter(log_cosignatures::witness.eq_any(witnesses))
        .order(log_cosignatures::witness)
        .select(log_cosignatures::line)
        .load(conn)?;
    let mut note = signed_note(conn, keys, size as u64)?;
    for line in lines {
        note.push_str(&line);
    }
    Ok(Some(CosignedCheckpoint {
        size: size as u64,
        note,
    }))
}

/// Keeps a witness's cosignature line of the checkpoint at `size`; a second one for the
/// same size and witness is ignored (the first is as good).
pub fn record_cosignature(
    conn: &mut DbConnection,
    size: u64,
    witness: &str,
    line: &str,
) -> QueryResult<()> {
    crate::db::write_transaction(conn, |conn| {
        if let DbConnection::Postgres(pg) = conn {
            // A cosignature lost in a crash is fetched again by resubmitting: its commit
            // need not wait for the disk, and so does not slow the log's own commits.
            diesel::sql_query("SET LOCAL synchronous_commit = off").execute(pg)?;
        }
        let exists: i64 = log_cosignatures::table
            .filter(log_cosignatures::size.eq(size as i64))
            .filter(log_cosignatures::witness.eq(witness))
            .count()
            .get_result(conn)?;
        if exists == 0 {
            diesel::insert_into(log_cosignatures::table)
                .values((
                    log_cosignatures::size.eq(size as i64),
                    log_cosignatures::witness.eq(witness),
                    log_cosignatures::line.eq(line),
                    log_cosignatures::created_at.eq(now()),
                ))
                .execute(conn)?;
        }
        Ok(())
    })
}

/// The largest size this witness has cosigned, by the database's account.
fn stored_cosigned_size(conn: &mut DbConnection, witness: &str) -> QueryResult<Option<u64>> {
    log_cosignatures::table
        .filter(log_cosignatures::witness.eq(witness))
        .select(diesel::dsl::max(log_cosignatures::size))
        .first::<Option<i64>>(conn)
        .map(|s| s.map(|s| s as u64))
}

/// The newest log-signed checkpoint: its size, note, and body (the text the witness signs).
fn newest(conn: &mut DbConnection, keys: &LogKeys) -> QueryResult<(u64, String)> {
    Ok(match store::latest_checkpoint(conn)? {
        Some(latest) => (latest.size as u64, latest.note),
        None => (0, empty_checkpoint(keys)),
    })
}

/// How a submitter's round ended.
enum Round {
    /// Something new was cosigned.
    Cosigned,
    /// The witness's size was learnt from a 409: submit again at once.
    Learnt,
    /// The witness holds the newest checkpoint.
    Idle,
    /// The witness holds a larger tree than the log: wait for the log to grow.
    Behind,
    /// Unreachable, refused, or the database failed: back off.
    Failed,
    /// Refused as inconsistent with what the witness cosigned. Sending it again would only
    /// file the same evidence again: this witness gets nothing more until a restart.
    Contradicted,
}

/// What one submission taught.
enum Answer {
    Cosigned(String),
    /// 409 as text/x.tlog.size: the witness holds this size.
    Holds(u64),
    /// 409 as anything else: the witness cosigned this size with another root.
    RootMismatch(String),
    /// Any other refusal, said by the witness.
    Refused {
        status: u16,
        why: String,
    },
}

/// Starts one submitter per witness, on the current runtime; they run until it stops.
pub fn spawn(db: Database, keys: Arc<LogKeys>, witnessing: Arc<Witnessing>, http: reqwest::Client) {
    for index in 0..witnessing.endpoints.len() {
        let submitter = Submitter {
            index,
            db: db.clone(),
            keys: keys.clone(),
            witnessing: witnessing.clone(),
            http: http.clone(),
        };
        tokio::task::spawn_local(submitter.run());
    }
}

struct Submitter {
    index: usize,
    db: Database,
    keys: Arc<LogKeys>,
    witnessing: Arc<Witnessing>,
    http: reqwest::Client,
}

impl Submitter {
    fn endpoint(&self) -> &WitnessEndpoint {
        &self.witnessing.endpoints[self.index]
    }

    async fn run(self) {
        let key = self.endpoint().key.clone();
        let Ok(verifier) = CosignatureVerifier::parse(&key) else {
            // The settings checked every key; nothing else can reach here.
            tracing::error!(witness = %key, "a configured witness key does not parse");
            return;
        };
        // What the witness is believed to hold; a 409 corrects it.
        let mut holds: Option<u64> = None;
        let mut failures: u32 = 0;
        loop {
            // Registered before looking, so an append during the round is not missed.
            let woken = self.witnessing.wake.notified();
            tokio::pin!(woken);
            woken.as_mut().enable();
            let started = std::time::Instant::now();
            let (pause, woken_early) = match self.round(&verifier, &mut holds).await {
                // Its size learnt from a 409: submit again at once.
                Round::Learnt => continue,
                // More may have been appended meanwhile: look again after the pause below.
                Round::Cosigned => {
                    failures = 0;
                    (Duration::ZERO, false)
                }
                Round::Idle => {
                    failures = 0;
                    (IDLE_POLL, true)
                }
                // Nothing can be submitted until the log grows past what the witness holds.
                Round::Behind => (IDLE_POLL, true),
                Round::Failed => {
                    failures = failures.saturating_add(1);
                    (backoff(failures), false)
                }
                Round::Contradicted => {
                    tracing::error!(witness = %key, "no more checkpoints go to this witness until the service restarts");
                    return;
                }
            };
            let appended = pause.is_zero()
                || tokio::select! {
                    _ = &mut woken, if woken_early => true,
                    _ = tokio::time::sleep(pause) => false,
                };
            if appended {
                // Let the burst this append may belong to finish, and under sustained
                // appends submit at most every MIN_INTERVAL: one submission, and one stored
                // cosignature, then covers all of it.
                let since = started.elapsed();
                tokio::time::sleep(COALESCE.max(MIN_INTERVAL.saturating_sub(since))).await;
            }
        }
    }

    /// One attempt to bring the witness up to the newest checkpoint.
    async fn round(&self, verifier: &CosignatureVerifier, holds: &mut Option<u64>) -> Round {
        let key = self.endpoint().key.clone();
        let keys = self.keys.clone();
        let known = *holds;
        let stored = {
            let key = key.clone();
            self.db
                .run(move |conn| -> Result<_, DbError> {
                    let (size, note) = newest(conn, &keys)?;
                    let cosigned = stored_cosigned_size(conn, &key)?;
                    Ok((size, note, cosigned))
                })
                .await
        };
        let (size, note, cosigned) = match stored {
            Ok(found) => found,
            Err(e) => {
                tracing::warn!(error = %e, "witnessing: the database is not available");
                return Round::Failed;
            }
        };
        // The first round always submits, even a checkpoint cosigned before: a witness that
        // holds a larger tree than the database is how a restored backup shows itself.
        if known == Some(size) {
            self.witnessing
                .update(self.index, |s| s.cosigned_size = Some(size));
            return Round::Idle;
        }
        let old = known.or(cosigned).unwrap_or(0);
        if old > size {
            let why = format!(
                "the witness has cosigned a tree of {old} leaves but the log holds {size}: \
                 the database was rolled back or replaced"
            );
            tracing::error!(witness = %key, old, size, "{why}");
            self.witnessing.update(self.index, |s| {
                s.problem = Some(why);
                s.refused_as_inconsistent = true;
            });
            return Round::Behind;
        }
        let proof = if old == 0 || old == size {
            Vec::new()
        } else {
            match self
                .db
                .run(move |conn| store::consistency(conn, old, size).map_err(DbError::from))
                .await
            {
                Ok(proof) => proof,
                Err(e) => {
                    tracing::warn!(error = %e, "witnessing: no consistency proof");
                    return Round::Failed;
                }
            }
        };
        let body_text = note.split("\n\n").next().map(|b| format!("{b}\n"));
        let answer = self.submit(AddCheckpoint::format(old, &proof, &note)).await;
        match answer {
            Ok(Answer::Cosigned(line)) => {
                let signed = body_text.as_deref().and_then(|b| verifier.verify(b, &line));
                if signed.is_none() {
                    let why = "the witness answered with a line that is not its valid \
                               cosignature of the checkpoint"
                        .to_owned();
                    tracing::error!(witness = %key, size, "{why}");
                    self.witnessing
                        .update(self.index, |s| s.problem = Some(why));
                    return Round::Failed;
                }
                let stored = self
                    .db
                    .run(move |conn| {
                        record_cosignature(conn, size, &key, &line).map_err(DbError::from)
                    })
                    .await;
                if let Err(e) = stored {
                    tracing::warn!(error = %e, "witnessing: cannot keep a cosignature");
                    return Round::Failed;
                }
                *holds = Some(size);
                self.witnessing.update(self.index, |s| {
                    s.cosigned_size = Some(size);
                    s.problem = None;
                });
                tracing::debug!(size, "checkpoint cosigned");
                Round::Cosigned
            }
            Ok(Answer::Holds(held)) => {
                tracing::info!(witness = %self.endpoint().key, held, "the witness holds another size");
                if *holds == Some(held) {
                    // Told the same twice: do not spin.
                    return Round::Failed;
                }
                *holds = Some(held);
                Round::Learnt
            }
            Ok(Answer::RootMismatch(why)) => self.refused(size, old, 409, why, true),
            Ok(Answer::Refused { status, why }) => {
                self.refused(size, old, status, why, status == 422)
            }
            Err(why) => {
                tracing::warn!(witness = %self.endpoint().key, reason = %why, "witness unreachable; will retry");
                self.witnessing
                    .update(self.index, |s| s.problem = Some(why));
                Round::Failed
            }
        }
    }

    /// A refusal: one as inconsistent with what the witness cosigned (422, or 409 for the
    /// same size with another root) means the log was rolled back or forked.
    fn refused(&self, size: u64, old: u64, status: u16, why: String, inconsistent: bool) -> Round {
        let why = format!("the witness refused the checkpoint of size {size} ({status}): {why}");
        if inconsistent {
            tracing::error!(witness = %self.endpoint().key, size, old, "the witness refused a checkpoint as inconsistent with one it cosigned: the log was rolled back or forked; investigate, and do not reset the witness");
        } else {
            tracing::error!(witness = %self.endpoint().key, size, "{why}");
        }
        self.witnessing.update(self.index, |s| {
            s.problem = Some(why);
            s.refused_as_inconsistent |= inconsistent;
        });
        if inconsistent {
            Round::Contradicted
        } else {
            Round::Failed
        }
    }

    async fn submit(&self, body: String) -> Result<Answer, String> {
        post(&self.http, &self.endpoint().url, body).await
    }
}

/// What a witness holds of this log, asked without moving it backwards: `note` (the newest
/// checkpoint of a log being restored) submitted as if from nothing. A witness that holds
/// more answers with its size (409); one that held nothing cosigns it. Some(size) held.
pub async fn held_size(
    http: &reqwest::Client,
    url: &url::Url,
    note: &str,
) -> Result<Option<u64>, String> {
    match post(http, url, AddCheckpoint::format(0, &[], note)).await? {
        Answer::Holds(size) => Ok(Some(size)),
        Answer::Cosigned(_) => Ok(None),
        Answer::RootMismatch(why) => Err(format!(
            "the witness cosigned this size with another root (409): {why}"
        )),
        Answer::Refused { status, why } => Err(format!("the witness refused ({status}): {why}")),
    }
}

async fn post(http: &reqwest::Client, url: &url::Url, body: String) -> Result<Answer, String> {
    {
        let res = http
            .post(url.clone())
            .timeout(REQUEST_TIMEOUT)
            .body(body)
            .send()
            .await
            .map_err(|e| format!("cannot reach the witness: {e}"))?;
        let status = res.status().as_u16();
        let sized = res
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.trim().starts_with("text/x.tlog.size"));
        let text = res
            .text()
            .await
            .map_err(|e| format!("the witness's answer was cut short: {e}"))?;
        Ok(match status {
            200 => Answer::Cosigned(text),
            409 if !sized => Answer::RootMismatch(text.trim().chars().take(300).collect()),
            409 => match text.trim().parse() {
                Ok(size) => Answer::Holds(size),
                Err(_) => Answer::Refused {
                    status,
                    why: "a 409 without the size it holds".into(),
                },
            },
            _ if status >= 500 => return Err(format!("the witness failed ({status})")),
            _ => Answer::Refused {
                status,
                why: text.trim().chars().take(300).collect(),
            },
        })
    }
}

/// 1 s after the first failure, doubling to a minute.
fn backoff(failures: u32) -> Duration {
    Duration::from_secs(1u64 << failures.saturating_sub(1).min(6)).min(MAX_BACKOFF)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_to_a_minute() {
        assert_eq!(backoff(1), Duration::from_secs(1));
        assert_eq!(backoff(2), Duration::from_secs(2));
        assert_eq!(backoff(6), Duration::from_secs(32));
        assert_eq!(backoff(7), MAX_BACKOFF);
        assert_eq!(backoff(1000), MAX_BACKOFF);
    }

    #[test]
    fn the_request_body_is_as_the_spec_lays_it_out() {
        let body = AddCheckpoint::format(3, &[[0u8; 32], [1u8; 32]], "o\n5\nAAAA\n\n— o sig\n");
        assert_eq!(
            body,
            "old 3\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n\
             AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n\no\n5\nAAAA\n\n— o sig\n"
        );
    }
}
