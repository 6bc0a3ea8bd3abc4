//! Attachments sent in segments: the web application encrypts a file in the page and sends
//! the ciphertext a segment at a time as it is produced, so that neither the page nor the
//! browser ever holds the whole file. (A browser streams a single request body only over
//! HTTP/2, which the service does not speak; see the README.)
//!
//! A segment is one stored chunk, written with the upload's new length in one transaction:
//! it is all there or not there at all. `Upload-Offset` says where a segment starts; a
//! segment sent again after its answer was lost is recognised and answered alike. Nothing is
//! visible until `complete`, which checks the whole stream's form exactly as a single
//! upload's is checked; a failed check, a `DELETE`, or an upload left idle for an hour (the
//! sweeper) leaves nothing behind.

use diesel::prelude::*;
use futures_util::StreamExt;

use super::attachments::{
    check_may_attach, complete_upload, discard, held_by, quota_exceeded, read_chunk, start_upload,
    swap_in_replacement, visible_attachment, Body, Limits, CHUNK_BYTES,
};
use super::service::{check_recipients, visible, QUERY_READERS};
use super::QueryError;
use crate::accounts::Caller;
use crate::db::schema::{attachment_chunks, attachments};
use crate::db::{now, DbConnection};
use crate::log::{LogKeys, Receipt};
use crate::tx::Storage;
use iro_advice_model::accounts::Role;
use iro_advice_model::ciphertext::StreamCheck;
use iro_advice_model::queries::{AttachmentId, QueryId};

/// Starts an upload to a query: an invisible attachment that segments are appended to.
/// `declared` is the whole stream's length, if the client announced it.
pub fn start(
    conn: &mut DbConnection,
    keys: &LogKeys,
    caller: &Caller,
    query_id: &QueryId,
    declared: Option<u64>,
    limits: Limits,
) -> Result<AttachmentId, QueryError> {
    if declared.is_some_and(|size| size > limits.max) {
        return Err(QueryError::TooLarge { limit: limits.max });
    }
    let q = visible(conn, keys, caller, query_id)?;
    check_may_attach(caller, &q)?;
    let left = limits
        .quota
        .saturating_sub(held_by(conn, &caller.account_id, None)?);
    if declared.is_some_and(|size| size > left) {
        return Err(quota_exceeded(left));
    }
    Ok(start_upload(conn, &q.id, &caller.account_id)?)
}

/// An upload of the caller's that is still open: its query and length so far.
fn own_upload(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &AttachmentId,
) -> Result<(QueryId, u64), QueryError> {
    let (query_id, size) = attachments::table
        .find(id)
        .filter(attachments::uploader_id.eq(&caller.account_id))
        .filter(attachments::state.eq("uploading"))
        .select((attachments::query_id, attachments::size))
        .first::<(QueryId, i64)>(conn)
        .optional()?
        .ok_or(QueryError::NotFound)?;
    Ok((query_id, size.max(0) as u64))
}

/// Reads one segment: at most one chunk, within the idle limit.
async fn read_segment(
    payload: &mut impl Body,
    idle: std::time::Duration,
) -> Result<Vec<u8>, QueryError> {
    let mut segment = Vec::new();
    loop {
        let piece = tokio::time::timeout(idle, payload.next())
            .await
            .map_err(|_| {
                QueryError::UploadTimeout(format!("nothing arrived for {} seconds", idle.as_secs()))
            })?;
        let Some(piece) = piece else {
            return Ok(segment);
        };
        let piece = piece.map_err(|e| QueryError::UploadIncomplete(e.to_string()))?;
        if segment.len() + piece.len() > CHUNK_BYTES {
            return Err(QueryError::TooLarge {
                limit: CHUNK_BYTES as u64,
            });
        }
        segment.extend_from_slice(&piece);
    }
}

/// Appends a segment at `offset`; the upload's new length, or the same length again when
/// this exact segment was the last one appended (a resend after a lost answer).
fn append_segment(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &AttachmentId,
    offset: u64,
    segment: Vec<u8>,
    limits: Limits,
) -> Result<u64, QueryError> {
    let (_, size) = own_upload(conn, caller, id)?;
    let chunks: i64 = attachment_chunks::table
        .filter(attachment_chunks::attachment_id.eq(id))
        .count()
        .get_result(conn)?;
    let length = segment.len() as u64;
    if offset != size {
        if chunks > 0 && offset + length == size {
            let last = read_chunk(conn, id, (chunks - 1) as i32)?;
            if last.as_deref() == Some(segment.as_slice()) {
                return Ok(size);
            }
        }
        return Err(QueryError::UploadOffset { size });
    }
    let new_size = size + length;
    if new_size > limits.max {
        return Err(QueryError::TooLarge { limit: limits.max });
    }
    let left = limits
        .quota
        .saturating_sub(held_by(conn, &caller.account_id, Some(id))?);
    if new_size > left {
        return Err(quota_exceeded(left));
    }
    diesel::insert_into(attachment_chunks::table)
        .values((
            attachment_chunks::attachment_id.eq(id),
            attachment_chunks::seq.eq(chunks as i32),
            attachment_chunks::data.eq(segment),
        ))
        .execute(conn)?;
    // The upload's time is its last activity until it completes: the sweeper takes only
    // uploads idle for an hour, however long a slow connection takes over the whole.
    diesel::update(attachments::table.find(id))
        .set((
            attachments::size.eq(new_size as i64),
            attachments::created_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(new_size)
}

/// Appends a segment (a body of at most one chunk) at `offset`; the upload's new length.
pub async fn append(
    storage: &Storage,
    caller: Caller,
    id: AttachmentId,
    offset: u64,
    mut body: impl Body,
    limits: Limits,
) -> Result<u64, QueryError> {
    let segment = read_segment(&mut body, limits.idle).await?;
    if segment.is_empty() {
        return Err(QueryError::BadRequest("an empty segment"));
    }
    storage
        .db
        .write(move |conn| append_segment(conn, &caller, &id, offset, segment, limits))
        .await
}

/// Checks the whole stream's form, a stored chunk at a time.
async fn check_form(storage: &Storage, id: &AttachmentId) -> Result<(), QueryError> {
    let mut check = StreamCheck::default();
    let mut seq = 0;
    loop {
        let at = id.clone();
        let chunk = storage
            .db
            .run(move |conn| -> Result<_, QueryError> { Ok(read_chunk(conn, &at, seq)?) })
            .await?;
        let Some(chunk) = chunk else { break };
        check.feed(&chunk)?;
        seq += 1;
    }
    let recipients = check.finish()?;
    check_recipients(recipients, QUERY_READERS)
}

/// Completes an upload: checked as a single upload is, then a new attachment of its query,
/// or, with `replaces`, the re-encrypted stream of one. Refused, the upload is gone and must
/// be sent again. Returns the attachment's size and the receipt.
pub async fn complete(
    storage: &Storage,
    caller: Caller,
    id: &AttachmentId,
    replaces: Option<AttachmentId>,
    limits: Limits,
) -> Result<(u64, Receipt), QueryError> {
    let (who, lookup) = (caller.clone(), id.clone());
    let (query_id, size) = storage
        .db
        .run(move |conn| own_upload(conn, &who, &lookup))
        .await?;
    let finished = finish(storage, caller, id, query_id, size, replaces, limits).await;
    if finished.is_err() {
        let gone = id.clone();
        storage
            .db
            .write(move |conn| -> Result<(), QueryError> { Ok(discard(conn, &gone)?) })
            .await?;
    }
    Ok((size, finished?))
}

async fn finish(
    storage: &Storage,
    caller: Caller,
    id: &AttachmentId,
    query_id: QueryId,
    size: u64,
    replaces: Option<AttachmentId>,
    limits: Limits,
) -> Result<Receipt, QueryError> {
    check_form(storage, id).await?;
    let staged = id.clone();
    storage
        .write(move |tx| {
            let left =
                limits
                    .quota
                    .saturating_sub(held_by(tx.conn, &caller.account_id, Some(&staged))?);
            if size > left {
                return Err(quota_exceeded(left));
            }
            match replaces {
                None => complete_upload(tx, &caller, &query_id, &staged, size),
                Some(target) => {
                    // Only an IRO re-encrypts, and only an attachment of the upload's query;
                    // the swap checks the rest (routable, the caller's own, unread).
                    let keys = tx.log_keys();
                    let (q, _) = visible_attachment(tx.conn, &keys, &caller, &target)?;
                    if caller.role != Role::Iro || q.id != query_id {
                        return Err(QueryError::NotFound);
                    }
                    swap_in_replacement(tx, &caller, &target, &staged, size)
                }
            }
        })
        .await
}

/// Abandons an upload: every segment is removed.
pub fn cancel(
    conn: &mut DbConnection,
    caller: &Caller,
    id: &AttachmentId,
) -> Result<(), QueryError> {
    own_upload(conn, caller, id)?;
    Ok(discard(conn, id)?)
}
