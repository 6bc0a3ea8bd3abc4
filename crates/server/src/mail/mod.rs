//! Notification mail through an outbox.
//!
//! Mail is written to the `outbox` table in the same transaction as the act that causes it,
//! so nothing is lost when the mail server is down. A sender task in `serve` claims due
//! messages with a lease (so two instances never send one twice), delivers them over SMTP
//! with TLS, or as `.eml` files when no SMTP server is configured, and retries with backoff.
//!
//! Every notification looks alike: one neutral subject and sender (settings), a link, and a
//! body of one size that names nothing, so that the employing authority's mail server learns
//! nothing from it but that something is waiting. Routine notices are gathered into one
//! digest sent at a random time, so that a mail's timing does not date an act either.

use std::sync::Arc;
use std::time::Duration as StdDuration;

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;
use lettre::message::Mailbox;
use lettre::transport::smtp::client::{Certificate, CertificateStore, Tls, TlsParameters};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

use crate::config::{MailSettings, Settings};
use crate::db::now;
use crate::db::schema::outbox;
use crate::db::{write_transaction, Database, DbConnection, DbError};
use iro_advice_model::accounts::{Email, Language};

/// How long a claimed message stays reserved for the instance sending it.
const LEASE_SECS: i64 = 300;
const MAX_BACKOFF_SECS: u64 = 3600;

/// What a notification points to. Both kinds render to bodies of exactly the same length.
pub enum Notice<'a> {
    /// An invitation; the token travels in the URL fragment, which browsers never send.
    Invitation { token: &'a str },
    /// Something is waiting in the service (a query, a reply, a reminder).
    Waiting,
}

/// Every link has one form, `<public url>/open#<43 characters>`: an invitation's token, or
/// random characters of the same length, so that an invitation and a notice are
/// indistinguishable to anyone reading the mail in transit.
fn link(public_url: &str, notice: &Notice<'_>) -> String {
    match notice {
        Notice::Invitation { token } => format!("{public_url}/open#{token}"),
        Notice::Waiting => format!("{public_url}/open#{}", crate::keys::random_token()),
    }
}

/// The one notification text, in the recipient's language: nothing about the query, the
/// case, who is involved or even which service sends it. Within a language every notice has
/// the same length; the language is the recipient's, not the act's, so it dates nothing.
pub fn render(public_url: &str, notice: &Notice<'_>, language: Language) -> String {
    let link = link(public_url, notice);
    match language {
        Language::En => format!(
            "Something is waiting for you.\r\n\r\nSign in to see it:\r\n{link}\r\n\r\n\
             This message says nothing more, on purpose.\r\n"
        ),
        Language::Cy => format!(
            "Mae rhywbeth yn aros amdanoch.\r\n\r\nMewngofnodwch i'w weld:\r\n{link}\r\n\r\n\
             Nid yw'r neges hon yn dweud dim mwy, yn fwriadol.\r\n"
        ),
    }
}

/// When a notice goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// At once: invitations, urgent queries, security notices.
    Now,
    /// In the recipient's next digest, at a random time within the configured minutes (at
    /// once when none are).
    Digest,
}

/// Queues a notification; call in the transaction of the act that causes it.
///
/// Every notice says the same thing, so one digest stands for any number of routine ones:
/// a routine notice for someone whose digest is pending adds nothing, and a notice sent at
/// once makes their pending digest redundant (it is dropped).
pub fn enqueue(
    conn: &mut DbConnection,
    recipient: &Email,
    public_url: &str,
    notice: Notice<'_>,
    when: When,
    digest_minutes: u64,
    language: Language,
) -> QueryResult<()> {
    let now = now();
    let pending_digest = outbox::table
        .filter(outbox::recipient.eq(recipient.as_str()))
        .filter(outbox::sent_at.is_null())
        .filter(outbox::digest.eq(true));
    let due = match (when, &notice) {
        (When::Digest, Notice::Waiting) if digest_minutes > 0 => {
            let pending: i64 = pending_digest.count().get_result(conn)?;
            if pending > 0 {
                return Ok(());
            }
            let jitter =
                u64::from_le_bytes(crate::keys::random_bytes::<8>()) % (digest_minutes * 60);
            Some(now + Duration::seconds(jitter as i64))
        }
        _ => {
            if let Notice::Waiting = notice {
                diesel::delete(pending_digest.filter(outbox::claim.is_null())).execute(conn)?;
            }
            None
        }
    };
    diesel::insert_into(outbox::table)
        .values((
            outbox::id.eq(uuid::Uuid::new_v4().to_string()),
            outbox::recipient.eq(recipient.as_str()),
            outbox::body.eq(render(public_url, &notice, language)),
            outbox::created_at.eq(now),
            outbox::attempts.eq(0),
            outbox::next_attempt_at.eq(due.unwrap_or(now)),
            outbox::digest.eq(due.is_some()),
            outbox::language.eq(language),
        ))
        .execute(conn)
        .map(drop)
}

/// Messages not yet delivered (for operators and tests).
pub fn pending_count(conn: &mut DbConnection) -> QueryResult<i64> {
    outbox::table
        .filter(outbox::sent_at.is_null())
        .count()
        .get_result(conn)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = outbox)]
struct Claimed {
    id: String,
    recipient: String,
    body: String,
    attempts: i32,
    language: Language,
}

/// Reserves the next due message for this sender, or none.
fn claim_next(conn: &mut DbConnection, claim: &str) -> QueryResult<Option<Claimed>> {
    write_transaction(conn, |conn| {
        let now = now();
        let available = outbox::sent_at
            .is_null()
            .and(outbox::next_attempt_at.le(now))
            .and(
                outbox::claimed_until
                    .is_null()
                    .or(outbox::claimed_until.lt(now)),
            );
        let next: Option<String> = outbox::table
            .filter(available)
            .order(outbox::next_attempt_at)
            .select(outbox::id)
            .first(conn)
            .optional()?;
        let Some(id) = next else { return Ok(None) };
        // Conditional on still being available: another instance may have taken it.
        let taken = diesel::update(outbox::table.find(&id).filter(available))
            .set((
                outbox::claim.eq(claim),
                outbox::claimed_until.eq(now + Duration::seconds(LEASE_SECS)),
            ))
            .execute(conn)?;
        if taken == 0 {
            return Ok(None);
        }
        outbox::table
            .find(&id)
            .select(Claimed::as_select())
            .first(conn)
            .map(Some)
    })
}

/// Marks a message delivered and forgets its address and text.
fn mark_sent(conn: &mut DbConnection, id: &str, claim: &str) -> QueryResult<()> {
    diesel::update(outbox::table.find(id).filter(outbox::claim.eq(claim)))
        .set((
            outbox::sent_at.eq(now()),
            outbox::recipient.eq(""),
            outbox::body.eq(""),
            outbox::claim.eq(None::<String>),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
        ))
        .execute(conn)
        .map(drop)
}

fn mark_failed(
    conn: &mut DbConnection,
    id: &str,
    claim: &str,
    attempts: i32,
    retry_in: StdDuration,
    error: &str,
) -> QueryResult<()> {
    diesel::update(outbox::table.find(id).filter(outbox::claim.eq(claim)))
        .set((
            outbox::attempts.eq(attempts),
            outbox::next_attempt_at.eq(now() + Duration::seconds(retry_in.as_secs() as i64)),
            outbox::claim.eq(None::<String>),
            outbox::claimed_until.eq(None::<NaiveDateTime>),
            outbox::last_error.eq(error),
        ))
        .execute(conn)
        .map(drop)
}

#[derive(Debug, thiserror::Error)]
pub enum MailError {
    #[error("IRO_ADVICE_SMTP_URL: {0}")]
    Url(String),
    #[error("IRO_ADVICE_SMTP_CA: {0}")]
    Ca(String),
    #[error("IRO_ADVICE_DATA_DIR: cannot create the outbox directory: {0}")]
    Dir(String),
}

enum Transport {
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    Files(AsyncFileTransport<Tokio1Executor>),
}

pub struct Mailer {
    transport: Transport,
    from: Mailbox,
    subject: String,
    subject_cy: String,
    /// Where the file transport writes, and how long its files are kept.
    files: Option<(std::path::PathBuf, StdDuration)>,
}

impl Mailer {
    pub fn new(settings: &Settings) -> Result<Self, MailError> {
        let from: Mailbox = settings
            .mail
            .from
            .parse()
            .map_err(|_| MailError::Url("IRO_ADVICE_MAIL_FROM is not a mailbox".into()))?;
        let mut files = None;
        let transport = match &settings.mail.smtp_url {
            Some(url) => Transport::Smtp(smtp_transport(url.0.expose(), &settings.mail)?),
            None => {
                let dir = settings.server.data_dir.join("outbox");
                iro_advice_model::files::create_private_dir(&dir)
                    .map_err(|e| MailError::Dir(e.to_string()))?;
                let keep = StdDuration::from_secs(settings.mail.file_hours * 3600);
                files = Some((dir.clone(), keep));
                Transport::Files(AsyncFileTransport::new(dir))
            }
        };
        Ok(Mailer {
            transport,
            from,
            subject: settings.mail.subject.clone(),
            subject_cy: settings.mail.subject_cy.clone(),
            files,
        })
    }

    /// Deletes the file transport's mail older than its setting allows: the files hold
    /// addresses and links, and whoever reads the folder has had time to take them.
    pub fn sweep_files(&self) -> std::io::Result<usize> {
        let Some((dir, keep)) = &self.files else {
            return Ok(0);
        };
        let mut deleted = 0;
        for entry in std::fs::read_dir(dir)?.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|e| e != "eml") {
                continue;
            }
            let age = entry
                .metadata()
                .and_then(|m| m.modified())
                .ok()
                .and_then(|m| m.elapsed().ok())
                .unwrap_or_default();
            if age >= *keep && std::fs::remove_file(&path).is_ok() {
                deleted += 1;
            }
        }
        Ok(deleted)
    }

    async fn send(&self, recipient: &str, body: &str, language: Language) -> Result<(), String> {
        let to: Mailbox = recipient
            .parse()
            .map_err(|_| "stored recipient is not an address".to_owned())?;
        let message = Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(match language {
                Language::En => self.subject.clone(),
                Language::Cy => self.subject_cy.clone(),
            })
            .body(body.to_owned())
            .map_err(|e| e.to_string())?;
        match &self.transport {
            Transport::Smtp(t) => t.send(message).await.map(drop).map_err(describe_smtp_error),
            Transport::Files(t) => t.send(message).await.map(drop).map_err(|e| e.to_string()),
        }
    }
}

/// What went wrong, in words that carry no address (a server's reply text might).
fn describe_smtp_error(e: lettre::transport::smtp::Error) -> String {
    let kind = if e.is_transient() {
        "transient rejection"
    } else if e.is_permanent() {
        "permanent rejection"
    } else if e.is_timeout() {
        "timeout"
    } else if e.is_tls() {
        "TLS failure"
    } else {
        "connection failure"
    };
    match e.status() {
        Some(code) => format!("{kind} ({code})"),
        None => kind.to_owned(),
    }
}

/// `smtp://` is STARTTLS (required), `smtps://` implicit TLS, and `smtp://…?tls=none`
/// plain text for a relay on the same host.
fn smtp_transport(
    raw: &str,
    settings: &MailSettings,
) -> Result<AsyncSmtpTransport<Tokio1Executor>, MailError> {
    let url = url::Url::parse(raw).map_err(|_| MailError::Url("not a URL".into()))?;
    let host = url
        .host_str()
        .ok_or_else(|| MailError::Url("no host".into()))?
        .to_owned();
    let plain = url.query_pairs().any(|(k, v)| k == "tls" && v == "none");
    let implicit = match url.scheme() {
        "smtps" => true,
        "smtp" => false,
        _ => return Err(MailError::Url("must be smtp:// or smtps://".into())),
    };
    let mut tls = TlsParameters::builder(host.clone());
    if let Some(ca) = &settings.smtp_ca {
        let pem = std::fs::read(ca).map_err(|e| MailError::Ca(e.to_string()))?;
        let cert = Certificate::from_pem(&pem).map_err(|e| MailError::Ca(e.to_string()))?;
        tls = tls
            .certificate_store(CertificateStore::None)
            .add_root_certificate(cert);
    }
    let tls = tls
        .build_rustls()
        .map_err(|e| MailError::Url(e.to_string()))?;
    let port = url.port().unwrap_or(if implicit { 465 } else { 587 });
    let mut builder = AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(host)
        .port(port)
        .timeout(Some(StdDuration::from_secs(60)))
        .tls(match (plain, implicit) {
            (true, _) => Tls::None,
            (false, true) => Tls::Wrapper(tls),
            (false, false) => Tls::Required(tls),
        });
    if !url.username().is_empty() {
        let user = percent_decode(url.username());
        let pass = percent_decode(url.password().unwrap_or(""));
        builder = builder.credentials(lettre::transport::smtp::authentication::Credentials::new(
            user, pass,
        ));
    }
    Ok(builder.build())
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={s}").as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn backoff(base_secs: u64, attempts: i32) -> StdDuration {
    let exp = (attempts.max(1) - 1).min(20) as u32;
    StdDuration::from_secs(
        base_secs
            .saturating_mul(2u64.saturating_pow(exp))
            .min(MAX_BACKOFF_SECS),
    )
}

/// Delivers at most one due message; true if there was one.
pub async fn deliver_one(
    db: &Database,
    mailer: &Mailer,
    retry_base_secs: u64,
) -> Result<bool, DbError> {
    let claim = uuid::Uuid::new_v4().to_string();
    let token = claim.clone();
    let Some(message) = db
        .run(move |conn| claim_next(conn, &token).map_err(DbError::from))
        .await?
    else {
        return Ok(false);
    };
    let result = mailer
        .send(&message.recipient, &message.body, message.language)
        .await;
    let id = message.id.clone();
    match result {
        Ok(()) => {
            db.run(move |conn| mark_sent(conn, &id, &claim).map_err(DbError::from))
                .await?;
            tracing::info!(message = %message.id, "notification sent");
        }
        Err(reason) => {
            let attempts = message.attempts + 1;
            let retry_in = backoff(retry_base_secs, attempts);
            tracing::warn!(message = %message.id, attempts, %reason, retry_in_secs = retry_in.as_secs(), "notification not sent; will retry");
            db.run(move |conn| {
                mark_failed(conn, &id, &claim, attempts, retry_in, &reason).map_err(DbError::from)
            })
            .await?;
        }
    }
    Ok(true)
}

/// Runs the sender until the process stops.
pub fn spawn_sender(db: Database, mailer: Arc<Mailer>, settings: &MailSettings) {
    let poll = StdDuration::from_millis(settings.poll_interval_ms);
    let retry_base = settings.retry_base_secs;
    tokio::task::spawn_local(async move {
        let mut last_sweep: Option<std::time::Instant> = None;
        loop {
            if last_sweep.is_none_or(|t| t.elapsed() > StdDuration::from_secs(60)) {
                last_sweep = Some(std::time::Instant::now());
                if let Err(e) = mailer.sweep_files() {
                    tracing::warn!(error = %e, "could not delete old mail files");
                }
            }
            match deliver_one(&db, &mailer, retry_base).await {
                Ok(true) => continue,
                Ok(false) => {}
                Err(e) => tracing::warn!(error = %e, "outbox unavailable"),
            }
            tokio::time::sleep(poll).await;
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_notification_is_the_same_size_and_says_nothing_else() {
        let mut texts = Vec::new();
        for language in Language::ALL.iter().copied() {
            let token = crate::keys::random_token();
            let a = render(
                "https://advice.example.org",
                &Notice::Invitation { token: &token },
                language,
            );
            let b = render("https://advice.example.org", &Notice::Waiting, language);
            assert_eq!(a.len(), b.len());
            assert!(a.contains(&format!("https://advice.example.org/open#{token}")));
            let fragment = &b[b.find("/open#").unwrap() + 6..][..43];
            assert_eq!(a.replace(&token, ""), b.replace(fragment, ""));
            texts.push(b.replace(fragment, ""));
        }
        assert!(texts[1].starts_with("Mae rhywbeth yn aros amdanoch."));
        assert_ne!(texts[0], texts[1]);
    }

    #[test]
    fn backoff_doubles_up_to_an_hour() {
        assert_eq!(backoff(30, 1).as_secs(), 30);
        assert_eq!(backoff(30, 2).as_secs(), 60);
        assert_eq!(backoff(30, 3).as_secs(), 120);
        assert_eq!(backoff(30, 50).as_secs(), 3600);
    }
}
