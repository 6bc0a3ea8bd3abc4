//! Attachments: binary age streams, received and served in chunks with constant memory and
//! kept in the database so that every instance can serve every one. No file name is stored.
//!
//! An upload is written as an invisible `uploading` row and becomes `complete` only once the
//! whole stream has arrived and has the form of an age file. Anything short of that — a
//! dropped connection, too many bytes, something that is not age — removes every chunk, and
//! a sweeper removes uploads that a crashed process left behind.

use bytes::Bytes;
use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use futures_util::{Stream, StreamExt};

use super::service::{self, may_write, visible, wrong_state};
use super::{store, QueryError};
use crate::accounts::Caller;
use crate::db::schema::{attachment_chunks, attachments};
use crate::db::{now, Database, DbConnection, DbError};
use crate::log::{LogKeys, Receipt};
use crate::tx::{Storage, Tx};
use iro_advice_model::accounts::AccountId;
use iro_advice_model::ciphertext::StreamCheck;
use iro_advice_model::queries::{AttachmentId, QueryId};

/// Bytes per stored chunk: the most either side holds in memory for one transfer.
pub const CHUNK_BYTES: usize = 1024 * 1024;
/// Uploads still `uploading` after this long were abandoned.
const ABANDONED_AFTER_MINUTES: i64 = 60;

/// A complete attachment, as a query's participants see it listed.
#[derive(Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct ListedAttachment {
    pub id: AttachmentId,
    pub size: i64,
    pub created_at: NaiveDateTime,
    pub uploader_id: AccountId,
    pub first_read_at: Option<NaiveDateTime>,
}

/// Complete attachments of a query, oldest first.
pub fn list(conn: &mut DbConnection, query_id: &QueryId) -> QueryResult<Vec<ListedAttachment>> {
    attachments::table
        .filter(attachments::query_id.eq(query_id))
        .filter(attachments::state.eq("complete"))
        .order((attachments::created_at, attachments::id))
        .select(ListedAttachment::as_select())
        .load(conn)
}

/// Who may attach follows who may write; the IRO may also attach while the query waits to be
/// routed, which is how a copy re-encrypted for the next adviser arrives when the original
/// has already been read and so cannot be replaced.
pub(super) fn check_may_attach(caller: &Caller, q: &store::Query) -> Result<(), QueryError> {
    let routing = caller.role == iro_advice_model::accounts::Role::Iro && q.status.routable();
    if may_write(caller.role, q.status) || routing {
        Ok(())
    } else {
        Err(wrong_state(format!(
            "no {} attachment on a {} query",
            caller.role, q.status
        )))
    }
}

/// Marks a received upload complete and records it, unless the query moved on while the
/// bytes arrived.
pub(super) fn complete_upload(
    tx: &mut Tx<'_>,
    caller: &Caller,
    query_id: &QueryId,
    attachment: &AttachmentId,
    size: u64,
) -> Result<Receipt, QueryError> {
    let keys = tx.log_keys();
    let q = visible(tx.conn, &keys, caller, query_id)?;
    check_may_attach(caller, &q)?;
    diesel::update(attachments::table.find(attachment))
        .set((
            attachments::state.eq("complete"),
            attachments::size.eq(size as i64),
        ))
        .execute(tx.conn)?;
    service::attachment_added(tx, caller, &q)
}

/// Refuses to replace a stream that someone other than the caller has had: what they read
/// (or sent) stays what the record holds.
pub(super) fn check_replaceable(caller: &Caller, a: &VisibleAttachment) -> Result<(), QueryError> {
    if a.uploader_id != caller.account_id || a.first_read_at.is_some() {
        return Err(QueryError::AttachmentAlreadyRead);
    }
    Ok(())
}

/// Puts the staged stream in place of the attachment's and records that it did, unless the
/// query stopped being routable, or the attachment was read, while it was uploaded.
pub(super) fn swap_in_replacement(
    tx: &mut Tx<'_>,
    caller: &Caller,
    target: &AttachmentId,
    staged: &AttachmentId,
    size: u64,
) -> Result<Receipt, QueryError> {
    let keys = tx.log_keys();
    let (q, current) = visible_attachment(tx.conn, &keys, caller, target)?;
    if !q.status.routable() {
        return Err(wrong_state(
            "the query changed while the attachment was uploaded",
        ));
    }
    check_replaceable(caller, &current)?;
    let conn = &mut *tx.conn;
    diesel::delete(attachment_chunks::table.filter(attachment_chunks::attachment_id.eq(target)))
        .execute(conn)?;
    diesel::update(attachment_chunks::table.filter(attachment_chunks::attachment_id.eq(staged)))
        .set(attachment_chunks::attachment_id.eq(target))
        .execute(conn)?;
    diesel::update(attachments::table.find(target))
        .set(attachments::size.eq(size as i64))
        .execute(conn)?;
    diesel::delete(attachments::table.find(staged)).execute(conn)?;
    service::attachment_replaced(tx, caller, &q)
}

/// Runs `f`; when it fails, removes the upload `id` left behind before passing the error on.
async fn or_discard<T>(
    db: &Database,
    id: &AttachmentId,
    result: Result<T, QueryError>,
) -> Result<T, QueryError> {
    if result.is_err() {
        let gone = id.to_owned();
        db.write(move |conn| -> Result<(), QueryError> { Ok(discard(conn, &gone)?) })
            .await?;
    }
    result
}

/// An upload in progress, discarded if the request ends before the upload is settled —
/// including when the connection breaks and the handler is dropped mid-way, where no error
/// comes back to handle (HTTP/1.1 ends a broken request that way). Settled means completed,
/// or discarded by [`or_discard`] before an error is answered.
struct PendingUpload {
    db: Database,
    id: AttachmentId,
    settled: bool,
}

impl PendingUpload {
    fn id(&self) -> &AttachmentId {
        &self.id
    }

    /// Runs `or_discard` for `result` and settles the upload either way.
    async fn settle<T>(mut self, result: Result<T, QueryError>) -> Result<T, QueryError> {
        let settled = or_discard(&self.db, &self.id, result).await;
        self.settled = true;
        settled
    }
}

impl Drop for PendingUpload {
    fn drop(&mut self) {
        if self.settled {
            return;
        }
        let (db, id) = (self.db.clone(), self.id.clone());
        // A destructor cannot wait: the discarding runs on its own. A chunk still being
        // written meanwhile fails on its foreign key, or is deleted with the rest.
        tokio::task::spawn_local(async move {
            let gone = db
                .write(move |conn| -> Result<(), QueryError> { Ok(discard(conn, &id)?) })
                .await;
            if let Err(e) = gone {
                tracing::warn!("an interrupted upload is left for the sweep: {e}");
            }
        });
    }
}

pub(super) fn start_upload(
    conn: &mut DbConnection,
    query_id: &QueryId,
    uploader: &AccountId,
) -> QueryResult<AttachmentId> {
    let id = AttachmentId::generate();
    diesel::insert_into(attachments::table)
        .values((
            attachments::id.eq(&id),
            attachments::query_id.eq(query_id),
            attachments::uploader_id.eq(uploader),
            attachments::size.eq(0i64),
            attachments::state.eq("uploading"),
            attachments::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(id)
}

pub(super) fn discard(conn: &mut DbConnection, id: &AttachmentId) -> QueryResult<()> {
    diesel::delete(attachment_chunks::table.filter(attachment_chunks::attachment_id.eq(id)))
        .execute(conn)?;
    diesel::delete(attachments::table.find(id)).execute(conn)?;
    Ok(())
}

/// Removes uploads abandoned by a process that stopped mid-way.
pub fn sweep_abandoned(conn: &mut DbConnection) -> QueryResult<usize> {
    let cutoff = now() - Duration::minutes(ABANDONED_AFTER_MINUTES);
    let stale: Vec<AttachmentId> = attachments::table
        .filter(attachments::state.eq("uploading"))
        .filter(attachments::created_at.lt(cutoff))
        .select(attachments::id)
        .load(conn)?;
    for id in &stale {
        discard(conn, id)?;
    }
    Ok(stale.len())
}

/// Receives a request body into a new `uploading` attachment, checking size and form as it
/// goes. On any failure the partial upload is gone before the error is returned.
/// How much an upload may hold: the per-attachment limit, within what the uploader's quota
/// has left.
#[derive(Clone, Copy)]
pub struct Limits {
    pub max: u64,
    pub quota: u64,
    pub idle: std::time::Duration,
}

impl Limits {
    pub fn of(settings: &crate::config::QuerySettings) -> Self {
        Limits {
            max: settings.max_attachment_bytes(),
            quota: settings.attachment_quota_bytes(),
            idle: std::time::Duration::from_secs(settings.upload_idle_secs),
        }
    }
}

pub(super) fn quota_exceeded(left: u64) -> QueryError {
    QueryError::QuotaExceeded { left }
}

/// Bytes an account holds in attachments, complete or still arriving (besides the upload
/// `besides`, when one is being judged): uploads left open count against the quota too, so
/// that uploads started and never finished cannot hold more than it until the sweep.
pub(super) fn held_by(
    conn: &mut DbConnection,
    uploader: &AccountId,
    besides: Option<&AttachmentId>,
) -> QueryResult<u64> {
    // Summed here: SUM's type differs between the two databases, and one account's
    // attachments are few.
    let sizes: Vec<(AttachmentId, i64)> = attachments::table
        .filter(attachments::uploader_id.eq(uploader))
        .select((attachments::id, attachments::size))
        .load(conn)?;
    Ok(sizes
        .iter()
        .filter(|(id, _)| Some(id) != besides)
        .map(|(_, size)| (*size).max(0) as u64)
        .sum())
}

/// A request body as it arrives: pieces of bytes, or a break in the transfer.
pub trait Body: Stream<Item = Result<Bytes, Self::Broken>> + Unpin {
    type Broken: std::fmt::Display;
}

impl<S, E> Body for S
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    type Broken = E;
}

async fn receive(
    db: &Database,
    declared: Option<u64>,
    mut payload: impl Body,
    query_id: &QueryId,
    uploader: &AccountId,
    limits: Limits,
) -> Result<(PendingUpload, u64), QueryError> {
    if declared.is_some_and(|len| len > limits.max) {
        return Err(QueryError::TooLarge { limit: limits.max });
    }
    let (q, u) = (query_id.to_owned(), uploader.to_owned());
    let (id, used) = db
        .write(move |conn| {
            let used = held_by(conn, &u, None)?;
            Ok::<_, QueryError>((start_upload(conn, &q, &u)?, used))
        })
        .await?;
    let mut pending = PendingUpload {
        db: db.clone(),
        id,
        settled: false,
    };
    let left = limits.quota.saturating_sub(used);
    let result = match declared {
        Some(len) if len > left => Err(quota_exceeded(left)),
        _ => receive_chunks(db, &mut payload, pending.id(), limits, left).await,
    };
    match result {
        Ok(size) => Ok((pending, size)),
        Err(e) => {
            let failed = or_discard(db, pending.id(), Err(e)).await;
            pending.settled = true;
            failed
        }
    }
}

async fn receive_chunks(
    db: &Database,
    payload: &mut impl Body,
    id: &AttachmentId,
    limits: Limits,
    quota_left: u64,
) -> Result<u64, QueryError> {
    let max = limits.max;
    let mut check = StreamCheck::default();
    let mut buffer: Vec<u8> = Vec::with_capacity(CHUNK_BYTES);
    let mut total: u64 = 0;
    let mut seq: i32 = 0;
    loop {
        // A client that stops sending does not hold the upload open.
        let piece = tokio::time::timeout(limits.idle, payload.next())
            .await
            .map_err(|_| {
                QueryError::UploadTimeout(format!(
                    "nothing arrived for {} seconds; the partial upload was discarded",
                    limits.idle.as_secs()
                ))
            })?;
        let last = piece.is_none();
        if let Some(piece) = piece {
            let piece = piece.map_err(|e| QueryError::UploadIncomplete(e.to_string()))?;
            total += piece.len() as u64;
            if total > max {
                return Err(QueryError::TooLarge { limit: max });
            }
            if total > quota_left {
                return Err(quota_exceeded(quota_left));
            }
            check.feed(&piece)?;
            buffer.extend_from_slice(&piece);
        }
        while buffer.len() >= CHUNK_BYTES || (last && !buffer.is_empty()) {
            let take = buffer.len().min(CHUNK_BYTES);
            let chunk: Vec<u8> = buffer.drain(..take).collect();
            let (attachment, n) = (id.to_owned(), seq);
            db.write(move |conn| -> Result<usize, QueryError> {
                Ok(diesel::insert_into(attachment_chunks::table)
                    .values((
                        attachment_chunks::attachment_id.eq(attachment),
                        attachment_chunks::seq.eq(n),
                        attachment_chunks::data.eq(chunk),
                    ))
                    .execute(conn)?)
            })
            .await?;
            seq += 1;
        }
        if last {
            break;
        }
    }
    let recipients = check.finish()?;
    crate::queries::service::check_recipients(recipients, crate::queries::service::QUERY_READERS)?;
    Ok(total)
}

/// A complete attachment, as its query's participants may see it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = attachments)]
pub struct VisibleAttachment {
    query_id: QueryId,
    pub uploader_id: AccountId,
    pub size: i64,
    pub first_read_at: Option<NaiveDateTime>,
}

/// The attachment, with the query it belongs to, if the caller may see that query.
pub(super) fn visible_attachment(
    conn: &mut DbConnection,
    keys: &LogKeys,
    caller: &Caller,
    id: &AttachmentId,
) -> Result<(store::Query, VisibleAttachment), QueryError> {
    let found = attachments::table
        .find(id)
        .filter(attachments::state.eq("complete"))
        .select(VisibleAttachment::as_select())
        .first(conn)
        .optional()?
        .ok_or(QueryError::NotFound)?;
    Ok((visible(conn, keys, caller, &found.query_id)?, found))
}

/// Notes the first time the stream goes to someone other than its uploader.
pub(super) fn mark_read(conn: &mut DbConnection, id: &AttachmentId) -> QueryResult<usize> {
    diesel::update(
        attachments::table
            .find(id)
            .filter(attachments::first_read_at.is_null()),
    )
    .set(attachments::first_read_at.eq(now()))
    .execute(conn)
}

pub(super) fn read_chunk(
    conn: &mut DbConnection,
    id: &AttachmentId,
    seq: i32,
) -> QueryResult<Option<Vec<u8>>> {
    attachment_chunks::table
        .find((id, seq))
        .select(attachment_chunks::data)
        .first(conn)
        .optional()
}

/// Adds an attachment to a query: the stream is received with constant memory, checked as
/// it arrives, and becomes visible (and a leaf of the log) only once whole. `declared` is
/// the length the client announced, if it did.
pub async fn attach(
    storage: &Storage,
    caller: Caller,
    query_id: QueryId,
    declared: Option<u64>,
    body: impl Body,
    limits: Limits,
) -> Result<(AttachmentId, u64, Receipt), QueryError> {
    let (who, lookup, keys) = (
        caller.clone(),
        query_id.clone(),
        storage.context.log.clone(),
    );
    let q = storage
        .read(move |conn| visible(conn, &keys, &who, &lookup))
        .await?;
    check_may_attach(&caller, &q)?;
    let (pending, size) = receive(
        &storage.db,
        declared,
        body,
        &q.id,
        &caller.account_id,
        limits,
    )
    .await?;
    let (attachment, done) = (pending.id().clone(), pending.id().clone());
    let finished = storage
        .write(move |tx| complete_upload(tx, &caller, &query_id, &done, size))
        .await;
    let receipt = pending.settle(finished).await?;
    Ok((attachment, size, receipt))
}

/// Replaces an attachment's stream with one re-encrypted for a new adviser, before the IRO
/// routes the query to them: the IRO only, only while the query can be routed, and only
/// while nobody else has had the stream. The replacement is a leaf in the log.
pub async fn replace(
    storage: &Storage,
    caller: Caller,
    id: AttachmentId,
    declared: Option<u64>,
    body: impl Body,
    limits: Limits,
) -> Result<(u64, Receipt), QueryError> {
    let (who, lookup, keys) = (caller.clone(), id.clone(), storage.context.log.clone());
    let (q, found) = storage
        .db
        .run(move |conn| visible_attachment(conn, &keys, &who, &lookup))
        .await?;
    if !q.status.routable() {
        return Err(wrong_state(
            "attachments are re-encrypted only while the query can be routed",
        ));
    }
    check_replaceable(&caller, &found)?;
    let (pending, size) = receive(
        &storage.db,
        declared,
        body,
        &q.id,
        &caller.account_id,
        limits,
    )
    .await?;
    let (target, staged) = (id.clone(), pending.id().clone());
    let swapped = storage
        .write(move |tx| swap_in_replacement(tx, &caller, &target, &staged, size))
        .await;
    let receipt = pending.settle(swapped).await?;
    Ok((size, receipt))
}

/// An attachment the caller may read: its size, and its chunks as a stream read one at a
/// time. The first time it goes to someone other than its uploader is noted (it can no
/// longer be replaced).
pub async fn open(
    storage: &Storage,
    caller: Caller,
    id: AttachmentId,
) -> Result<(u64, impl Stream<Item = Result<Bytes, DbError>>), QueryError> {
    let (who, lookup, keys) = (caller.clone(), id.clone(), storage.context.log.clone());
    let (_, found) = storage
        .db
        .run(move |conn| visible_attachment(conn, &keys, &who, &lookup))
        .await?;
    if found.uploader_id != caller.account_id && found.first_read_at.is_none() {
        let marked = id.clone();
        storage
            .db
            .write(move |conn| -> Result<usize, QueryError> { Ok(mark_read(conn, &marked)?) })
            .await?;
    }
    let db = storage.db.clone();
    let chunks = futures_util::stream::unfold(Some(0i32), move |seq| {
        let (db, id) = (db.clone(), id.clone());
        async move {
            let seq = seq?;
            let next = db
                .run(move |conn| read_chunk(conn, &id, seq).map_err(DbError::from))
                .await;
            match next {
                Ok(Some(bytes)) => Some((Ok::<_, DbError>(Bytes::from(bytes)), Some(seq + 1))),
                Ok(None) => None,
                Err(e) => Some((Err(e), None)),
            }
        }
    });
    Ok((found.size.max(0) as u64, chunks))
}
