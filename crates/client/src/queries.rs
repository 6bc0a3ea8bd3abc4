//! Queries from the command line: advisers, ask, inbox, show, reply, the query's path,
//! attachments. Everything is encrypted and decrypted here; the server sees ciphertext.

use std::path::{Path, PathBuf};

use reqwest::Method;
use serde::Serialize;
use serde_json::json;

use super::api::Api;
use super::crypto::{decrypt_armored, encrypt_armored};
use super::error::{read_file, ClientError};
use super::output::Output;
use super::profile::Profile;
use super::render::{authority_name, table, to_the_minute};
use super::transfer;
use iro_advice_api::paths;
use iro_advice_api::{
    AdviserEntry, AskRequest, AttachmentView, MessageCreated, MessageRequest, QueryDetail,
    QuerySummary, ReencryptedMessage, RouteRequest, StatusView,
};
use iro_advice_model::accounts::{AccountId, Role};
use iro_advice_model::queries::{Category, MessageId, Stage, Urgency};
use iro_advice_model::signing::{Signed, OPENING};

pub async fn advisers(api: &Api) -> Result<Output, ClientError> {
    let list: Vec<AdviserEntry> = api.get(paths::ADVISERS).await?;
    let mut rows = vec![vec!["ID".into(), "NAME".into(), "KIND".into()]];
    for a in &list {
        rows.push(vec![
            a.id.to_string(),
            a.display_name.clone(),
            a.kind.to_string(),
        ]);
    }
    Output::new(table(&rows), list)
}

const WAITED_NOTE: &str = "\n* waited past the reminder time without being accepted: the IRO may \
route it to another adviser (`iro-advice client route ID --adviser ADVISER_ID`).\n";

/// Urgent queries stand out in a list.
fn urgency_mark(urgency: Urgency) -> String {
    match urgency {
        Urgency::Urgent => "URGENT".into(),
        Urgency::Routine => urgency.to_string(),
    }
}

/// Capitalised pairs ("Jane Smith", "Jayden Smith's") that may be a child's name.
fn looks_like_names(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let bare = |w: &str| -> String {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        // A possessive is still a name.
        ["'s", "\u{2019}s", "s'", "s\u{2019}"]
            .iter()
            .find_map(|suffix| w.strip_suffix(suffix))
            .unwrap_or(w)
            .to_owned()
    };
    let capitalised = |w: &str| {
        let w = bare(w);
        let w = w.as_str();
        let mut chars = w.chars();
        matches!(chars.next(), Some(c) if c.is_uppercase())
            && w.len() > 1
            && chars.all(|c| c.is_lowercase())
    };
    let mut found: Vec<String> = words
        .windows(2)
        .filter(|pair| capitalised(pair[0]) && capitalised(pair[1]))
        .map(|pair| format!("{} {}", bare(pair[0]), bare(pair[1])))
        .collect();
    found.sort();
    found.dedup();
    found
}

const CHILD_NAME_REMINDER: &str =
    "Reminder: do not name the child. Use initials or a description (\"the 9-year-old\").";

fn question_text(body: Option<PathBuf>, profile: &Profile) -> Result<Vec<u8>, ClientError> {
    if let Some(path) = body {
        return read_file(&path);
    }
    let draft = profile.dir.join("draft.txt");
    iro_advice_model::files::write_private(
        &draft,
        format!("\n# {CHILD_NAME_REMINDER}\n# Lines starting with # are left out. Save and close to send.\n").as_bytes(),
    )
    .map_err(|e| ClientError::io(&draft, e))?;
    // No guess at an editor: someone dropped into vi does not know how to leave it.
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .ok()
        .filter(|e| !e.trim().is_empty())
        .ok_or_else(|| {
            ClientError::Profile(
                "no question given: write it in a file and give it with --body FILE \
                 (or set $EDITOR to the editor you use)"
                    .into(),
            )
        })?;
    let status = std::process::Command::new(&editor)
        .arg(&draft)
        .status()
        .map_err(|e| ClientError::Profile(format!("cannot start {editor}: {e}")))?;
    let text = std::fs::read_to_string(&draft).map_err(|e| ClientError::io(&draft, e))?;
    // The draft is plaintext: it does not outlive the command.
    let _ = std::fs::remove_file(&draft);
    if !status.success() {
        return Err(ClientError::Profile(
            "the editor failed; nothing was sent".into(),
        ));
    }
    let kept: String = text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect::<Vec<_>>()
        .join("\n");
    if kept.trim().is_empty() {
        return Err(ClientError::Profile(
            "the question is empty; nothing was sent".into(),
        ));
    }
    Ok(kept.into_bytes())
}

/// What a new query is about, and to whom it goes.
pub struct Question {
    pub adviser: String,
    pub category: Category,
    pub stage: Stage,
    pub urgency: Urgency,
}

/// Every file can be attached: it exists, is readable, and fits the service's limit
/// (with room for age's overhead). Checked before the query is sent, so that a bad file
/// does not leave a sent query without it.
async fn check_attachments(api: &Api, files: &[PathBuf]) -> Result<(), ClientError> {
    if files.is_empty() {
        return Ok(());
    }
    let me: iro_advice_api::Me = api.get(paths::ME).await?;
    for file in files {
        let meta = std::fs::metadata(file).map_err(|e| ClientError::io(file, e))?;
        if !meta.is_file() {
            return Err(ClientError::Profile(format!(
                "{}: not a file; nothing was sent",
                file.display()
            )));
        }
        std::fs::File::open(file).map_err(|e| ClientError::io(file, e))?;
        // age adds a header (~200 bytes a recipient) and 16 bytes per 64 KiB.
        let encrypted = meta.len() + meta.len() / (64 * 1024) * 16 + 16 + 4096;
        if encrypted > me.max_attachment_bytes {
            return Err(ClientError::Profile(format!(
                "{}: {} bytes is more than the service takes ({} bytes); nothing was sent",
                file.display(),
                meta.len(),
                me.max_attachment_bytes
            )));
        }
    }
    Ok(())
}

/// Asks whether to send a question that may name someone: at a terminal, yes or no;
/// without one, only `--yes` sends it.
fn confirm_names(names: &[String], yes: bool) -> Result<(), ClientError> {
    if names.is_empty() || yes {
        return Ok(());
    }
    let warning = format!("This may name someone: {}.", names.join(", "));
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(ClientError::Profile(format!(
            "{warning} Nothing was sent. Use initials instead, or add --yes if these are not names."
        )));
    }
    eprint!("{warning} {CHILD_NAME_REMINDER}\nSend anyway? [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| ClientError::Profile(e.to_string()))?;
    if matches!(answer.trim(), "y" | "Y" | "yes" | "Yes") {
        Ok(())
    } else {
        Err(ClientError::Profile("Nothing was sent.".into()))
    }
}

pub async fn ask(
    api: &Api,
    question: Question,
    body: Option<PathBuf>,
    attach: &[PathBuf],
    yes: bool,
) -> Result<Output, ClientError> {
    check_attachments(api, attach).await?;
    let (chosen, identity, recipients) = with_adviser(api, &question.adviser).await?;
    eprintln!("{CHILD_NAME_REMINDER}");
    let text = question_text(body, api.profile())?;
    confirm_names(&looks_like_names(&String::from_utf8_lossy(&text)), yes)?;
    // The query's id is the service's to give, so a question is signed as the opening one.
    let signed = api.signed(&identity, OPENING, &text)?;
    let request = AskRequest {
        adviser_id: chosen.id.clone(),
        category: question.category,
        stage: question.stage,
        urgency: question.urgency,
        body: encrypt_armored(&signed, &recipients)?.into(),
    };
    let created: iro_advice_api::Asked = api.post(paths::QUERIES, &request).await?;
    let id = created.id;
    let mut attachments = Vec::new();
    for (done, file) in attach.iter().enumerate() {
        let uploaded =
            transfer::upload(api, &id.to_string(), Method::POST, file, &recipients).await;
        match uploaded {
            Ok(a) => attachments.push(a),
            // The query is sent: say which it is, and how to finish, rather than invite a
            // second query by failing without its id.
            Err(e) => {
                let rest: Vec<String> = attach[done..]
                    .iter()
                    .map(|f| format!("iro-advice client attach {id} {}", f.display()))
                    .collect();
                return Err(ClientError::Profile(format!(
                    "the query was sent ({id}) with {done} of {} attachment(s); attaching {} \
                     failed: {e}\nDo not ask again; attach the rest with:\n  {}\n{id}",
                    attach.len(),
                    file.display(),
                    rest.join("\n  ")
                )));
            }
        }
    }
    Output::new(
        format!(
            "Asked {}; {} attachment(s).\n{id}",
            chosen.display_name,
            attachments.len()
        ),
        json!({"id": id, "status": created.status, "attachments": attachments}),
    )
}

pub async fn inbox(api: &Api) -> Result<Output, ClientError> {
    let list: Vec<QuerySummary> = api.get(paths::QUERIES).await?;
    let mut rows = vec![vec![
        "ID".into(),
        "STATUS".into(),
        "URGENCY".into(),
        "CATEGORY".into(),
        "IRO".into(),
        "ADVISER".into(),
        "MESSAGES".into(),
        "CREATED".into(),
    ]];
    for q in &list {
        let status = match q.waited_past_reminder {
            true => format!("{} *", q.status),
            false => q.status.to_string(),
        };
        rows.push(vec![
            q.id.to_string(),
            status,
            urgency_mark(q.urgency),
            q.category.to_string(),
            q.iro_name.clone(),
            q.adviser_name.clone(),
            q.message_count.to_string(),
            to_the_minute(&q.created_at),
        ]);
    }
    let mut text = table(&rows);
    if list.iter().any(|q| q.waited_past_reminder) {
        text.push_str(WAITED_NOTE);
    }
    Output::new(text, list)
}

/// A query as `show` prints it with `--json`: its messages decrypted.
#[derive(Serialize)]
struct ShownQuery {
    #[serde(flatten)]
    summary: QuerySummary,
    iro_recipient: Option<String>,
    adviser_recipient: Option<String>,
    messages: Vec<ShownMessage>,
    attachments: Vec<AttachmentView>,
}

#[derive(Serialize)]
struct ShownMessage {
    id: MessageId,
    sender_id: AccountId,
    sender_role: Role,
    created_at: String,
    text: String,
    /// `signed` (by the sender's logged key), `not_signed` (or signed wrongly: not their
    /// words), or `not_checked` (a sender no longer on the query).
    signature: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    signed_at: Option<i64>,
}

pub async fn show(api: &Api, id: &str) -> Result<Output, ClientError> {
    let identity = api.identity()?;
    let detail: QueryDetail = api.get(&paths::fill(paths::QUERY, &[id])).await?;
    let q = &detail.summary;
    let mut text = format!(
        "Query {}\nstatus {}, {} {}, stage {}, authority {}\nIRO {}, adviser {}\n",
        q.id,
        q.status,
        urgency_mark(q.urgency),
        q.category,
        q.stage,
        authority_name(&q.authority_code),
        q.iro_name,
        q.adviser_name,
    );
    match (&q.reminder_at, q.waited_past_reminder) {
        (Some(at), true) => text.push_str(&format!(
            "Waited past its reminder time ({}) without being accepted: the adviser has been \
             reminded, and the IRO may route it to another adviser \
             (`iro-advice client route {} --adviser ADVISER_ID`).\n",
            to_the_minute(at),
            q.id
        )),
        (Some(at), false) => text.push_str(&format!(
            "Not yet accepted; the adviser is reminded at {} if it is still waiting.\n",
            to_the_minute(at)
        )),
        (None, _) => {}
    }
    // Each message is checked against its sender's key as the log proves it (and this
    // profile pinned it): the service says whose words they are, the signature says so.
    let me = api.account_id()?;
    let mut keys: Vec<(AccountId, &str, String)> = Vec::new();
    for (account, name, recipient, proof) in parties(&detail) {
        if let Some(r) = recipient {
            // A key the log cannot prove (yet), or one that changed, checks nothing: the
            // messages are shown as not checked, and writing to them says why.
            let verified =
                super::keys::verified_recipient(api, name, account.as_str(), r, proof.as_ref())
                    .await;
            match verified {
                Ok(_) => keys.push((account.clone(), name.as_str(), r.clone())),
                Err(ClientError::KeyRefused(why)) => text.push_str(&format!(
                    "(The signatures of {name} are not checked: {why})\n"
                )),
                Err(e) => return Err(e),
            }
        }
    }
    let mut messages = Vec::with_capacity(detail.messages.len());
    let mut forged_in_my_name = Vec::new();
    for (index, m) in detail.messages.iter().enumerate() {
        let sender = keys.iter().find(|(a, _, _)| *a == m.sender_id);
        let name = sender.map_or(m.sender_role.to_string(), |(_, n, _)| (*n).to_owned());
        let (plain, signature, signed_at) = match &m.body {
            Some(body) => match decrypt_armored(body, &identity) {
                Ok(p) => match sender {
                    Some((_, _, recipient)) => {
                        let expected = if index == 0 { OPENING } else { q.id.as_str() };
                        let (text, signed) = iro_advice_model::signing::open(
                            &p,
                            expected,
                            m.sender_id.as_str(),
                            recipient,
                        );
                        let text = String::from_utf8_lossy(text).into_owned();
                        match signed {
                            Signed::By { signed_at } => (text, "signed", Some(signed_at)),
                            Signed::Unsigned | Signed::Forged(_) => (text, "not_signed", None),
                        }
                    }
                    None => (
                        String::from_utf8_lossy(&p).into_owned(),
                        "not_checked",
                        None,
                    ),
                },
                Err(e) => (format!("[{e}]"), "not_checked", None),
            },
            None => ("[erased]".into(), "not_checked", None),
        };
        let head = match signature {
            "signed" => format!(
                "--- {name} ({}) at {}, signed by their key",
                m.sender_role, m.created_at
            ),
            "not_signed" => format!(
                "--- NOT SIGNED BY {name}: the service shows this as theirs ({} at {}), but \
                 their key did not sign it. Do not take it as their words; tell NAIRO.",
                m.sender_role, m.created_at
            ),
            _ => format!(
                "--- {name} ({}) at {} (signature not checked)",
                m.sender_role, m.created_at
            ),
        };
        text.push_str(&format!("\n{head}\n{plain}\n"));
        if signature == "not_signed" && m.sender_id.as_str() == me {
            forged_in_my_name.push(format!("{} at {}", m.id, m.created_at));
        }
        messages.push(ShownMessage {
            id: m.id.clone(),
            sender_id: m.sender_id.clone(),
            sender_role: m.sender_role,
            created_at: m.created_at.clone(),
            text: plain,
            signature,
            signed_at,
        });
    }
    if !forged_in_my_name.is_empty() {
        return Err(ClientError::KeyAlarm(format!(
            "ALARM: query {} holds {} message(s) in your name that your key did not sign ({}). \
             Someone who can change the service's database is speaking for you; your \
             correspondent's client shows them as not signed by you. Tell NAIRO and the \
             person you are advising, by phone.",
            q.id,
            forged_in_my_name.len(),
            forged_in_my_name.join(", ")
        )));
    }
    if !detail.attachments.is_empty() {
        text.push_str(
            "\nAttachments (`client fetch ID` saves one under the name it was sent with):\n",
        );
        for a in &detail.attachments {
            text.push_str(&format!("  {}  {} bytes encrypted\n", a.id, a.size));
        }
    }
    let shown = ShownQuery {
        summary: detail.summary,
        iro_recipient: detail.iro_recipient,
        adviser_recipient: detail.adviser_recipient,
        messages,
        attachments: detail.attachments,
    };
    Output::new(text, shown)
}

/// A query's two participants as its detail gives them: account, name, key and key proof.
type Party<'a> = (
    &'a AccountId,
    &'a String,
    &'a Option<String>,
    &'a Option<iro_advice_api::KeyProof>,
);

fn parties(detail: &QueryDetail) -> [Party<'_>; 2] {
    let q = &detail.summary;
    [
        (
            &q.iro_id,
            &q.iro_name,
            &detail.iro_recipient,
            &detail.iro_key_proof,
        ),
        (
            &q.adviser_id,
            &q.adviser_name,
            &detail.adviser_recipient,
            &detail.adviser_key_proof,
        ),
    ]
}

/// The query's participants' keys, for replies and attachments.
async fn participants(api: &Api, id: &str) -> Result<Vec<age::x25519::Recipient>, ClientError> {
    let detail: QueryDetail = api.get(&paths::fill(paths::QUERY, &[id])).await?;
    let mut out = Vec::new();
    for (account, name, recipient, proof) in parties(&detail) {
        let r = recipient
            .as_deref()
            .ok_or_else(|| ClientError::Profile(format!("{name} has no key registered")))?;
        out.push(
            super::keys::verified_recipient(api, name, account.as_str(), r, proof.as_ref()).await?,
        );
    }
    Ok(out)
}

pub async fn reply(api: &Api, id: &str, body: &Path) -> Result<Output, ClientError> {
    let recipients = participants(api, id).await?;
    let signed = api.signed(&api.identity()?, id, &read_file(body)?)?;
    let request = MessageRequest {
        body: encrypt_armored(&signed, &recipients)?.into(),
    };
    let created: MessageCreated = api
        .post(&paths::fill(paths::QUERY_MESSAGES, &[id]), &request)
        .await?;
    Output::new(format!("Sent.\n{}", created.id), created)
}

pub async fn transition(
    api: &Api,
    id: &str,
    action: &str,
    body: &impl Serialize,
) -> Result<Output, ClientError> {
    let result: StatusView = api
        .post(
            &format!("{}/{action}", paths::fill(paths::QUERY, &[id])),
            body,
        )
        .await?;
    Output::new(format!("Query {id} is now {}.", result.status), result)
}

/// An adviser this IRO may ask, the IRO's identity, and the keys to encrypt to for both.
async fn with_adviser(
    api: &Api,
    adviser: &str,
) -> Result<
    (
        AdviserEntry,
        age::x25519::Identity,
        Vec<age::x25519::Recipient>,
    ),
    ClientError,
> {
    let identity = api.identity()?;
    let advisers: Vec<AdviserEntry> = api.get(paths::ADVISERS).await?;
    let wanted = AccountId::from_string(adviser.to_owned());
    let chosen = advisers
        .into_iter()
        .find(|a| a.id == wanted)
        .ok_or_else(|| {
            ClientError::Profile(format!("{adviser} is not among the advisers you may ask"))
        })?;
    let theirs = super::keys::verified_recipient(
        api,
        &chosen.display_name,
        chosen.id.as_str(),
        &chosen.age_recipient,
        chosen.key_proof.as_ref(),
    )
    .await?;
    // "Verified" is shown only as the adviser's logged identity says it.
    let logged = chosen.key_proof.as_ref().and_then(|p| p.identity.as_ref());
    if logged.is_some_and(|claim| claim.verified != chosen.verified) {
        return Err(ClientError::KeyRefused(format!(
            "refusing to encrypt to {}: the service shows their verification otherwise than \
             their key event in the log records it. Nothing was sent. Tell NAIRO.",
            chosen.display_name
        )));
    }
    let recipients = vec![identity.to_public(), theirs];
    Ok((chosen, identity, recipients))
}

pub async fn route(api: &Api, id: &str, adviser: &str) -> Result<Output, ClientError> {
    let (chosen, identity, recipients) = with_adviser(api, adviser).await?;
    let detail: QueryDetail = api.get(&paths::fill(paths::QUERY, &[id])).await?;
    // Attachments first: if routing then fails, they are still readable by the IRO. One the
    // last adviser already had stays as it was; the new adviser gets a copy.
    let copies = paths::fill(paths::QUERY_ATTACHMENTS, &[id]);
    for a in &detail.attachments {
        let own = paths::fill(paths::ATTACHMENT, &[a.id.as_str()]);
        let target = if a.replaceable {
            (Method::PUT, own.as_str())
        } else {
            (Method::POST, copies.as_str())
        };
        transfer::reencrypt(api, a.id.as_str(), target, &identity, &recipients).await?;
    }
    let mut messages = Vec::new();
    for m in detail.messages {
        let Some(body) = m.body else {
            continue;
        };
        let plain = decrypt_armored(&body, &identity)?;
        messages.push(ReencryptedMessage {
            id: m.id,
            body: encrypt_armored(&plain, &recipients)?.into(),
        });
    }
    let request = RouteRequest {
        adviser_id: chosen.id.clone(),
        messages,
    };
    let result: StatusView = api
        .post(&paths::fill(paths::QUERY_ROUTE, &[id]), &request)
        .await?;
    Output::new(
        format!("Query {id} routed to {}.", chosen.display_name),
        result,
    )
}

pub async fn attach(api: &Api, id: &str, file: &Path) -> Result<Output, ClientError> {
    let recipients = participants(api, id).await?;
    let created = transfer::upload(api, id, Method::POST, file, &recipients).await?;
    Output::new(format!("Attached.\n{}", created.id), created)
}

/// Where a fetched attachment goes.
pub enum SaveTo {
    /// This file.
    File(PathBuf),
    /// This folder, under the name the sender's file had.
    Dir(PathBuf),
}

fn exists_error(path: &Path) -> ClientError {
    ClientError::Profile(format!(
        "{} already exists; choose another --out, or add --force to overwrite it",
        path.display()
    ))
}

pub async fn fetch(
    api: &Api,
    attachment: &str,
    to: SaveTo,
    force: bool,
) -> Result<Output, ClientError> {
    let dir = match &to {
        SaveTo::File(file) => {
            if file.exists() && !force {
                return Err(exists_error(file));
            }
            match file.parent() {
                Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
                _ => PathBuf::from("."),
            }
        }
        SaveTo::Dir(dir) => dir.clone(),
    };
    let identity = api.identity()?;
    let got = transfer::download(api, attachment, &dir, &identity).await?;
    let out = match to {
        SaveTo::File(file) => file,
        SaveTo::Dir(dir) => {
            let name = got.envelope.as_ref().and_then(|e| e.safe_name());
            dir.join(name.map_or_else(|| format!("attachment-{attachment}"), str::to_owned))
        }
    };
    if out.exists() && !force {
        let _ = std::fs::remove_file(&got.partial);
        return Err(exists_error(&out));
    }
    if let Err(e) = std::fs::rename(&got.partial, &out) {
        let _ = std::fs::remove_file(&got.partial);
        return Err(ClientError::io(&out, e));
    }
    let (name, media_type) = match &got.envelope {
        Some(e) => (Some(e.name.as_str()), Some(e.media_type.as_str())),
        None => (None, None),
    };
    let sent_as = name.map(|n| format!(", sent as {n:?}")).unwrap_or_default();
    let (signature, signer) = file_signature(api, attachment, &got).await?;
    let said = match (signature, &signer) {
        ("signed", Some(who)) => format!(" Signed by {who}'s key."),
        ("not_checked", Some(who)) => {
            format!(" Signed as {who}'s, who is no longer on the query: not checked.")
        }
        _ => " WARNING: this file is NOT SIGNED by its sender's key. The service shows it as \
              theirs, but it may not be: do not open it or act on it before checking with \
              them, and tell NAIRO."
            .to_owned(),
    };
    Output::new(
        format!(
            "Wrote {} ({} bytes{sent_as}).{said}",
            out.display(),
            got.bytes
        ),
        json!({"out": out, "bytes": got.bytes, "name": name, "type": media_type,
               "signature": signature, "signed_by": signer}),
    )
}

/// Whether an attachment was signed by its sender's key, as the log proves it, for the
/// query that lists it: `signed`, `not_signed`, or `not_checked` (a sender no longer on
/// the query), with the signer's name.
async fn file_signature(
    api: &Api,
    attachment: &str,
    got: &transfer::Downloaded,
) -> Result<(&'static str, Option<String>), ClientError> {
    let Some(sig) = got.envelope.as_ref().and_then(|e| e.signed.as_ref()) else {
        return Ok(("not_signed", None));
    };
    // Signed for a query that does not list it: moved, as the operator could.
    let detail: QueryDetail = match api.get(&paths::fill(paths::QUERY, &[&sig.query])).await {
        Ok(d) => d,
        Err(ClientError::Api { .. }) => return Ok(("not_signed", None)),
        Err(e) => return Err(e),
    };
    if !detail
        .attachments
        .iter()
        .any(|a| a.id.as_str() == attachment)
    {
        return Ok(("not_signed", None));
    }
    let party = parties(&detail)
        .into_iter()
        .find(|(id, ..)| id.as_str() == sig.sender);
    let Some((id, name, Some(recipient), proof)) = party else {
        return Ok(("not_checked", Some(sig.sender.clone())));
    };
    super::keys::verified_recipient(api, name, id.as_str(), recipient, proof.as_ref()).await?;
    if !sig.verifies(recipient, &got.digest) {
        return Ok(("not_signed", Some(name.clone())));
    }
    Ok(("signed", Some(name.clone())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalised_pairs_are_flagged_as_possible_names() {
        let found = looks_like_names("The plan for Jane Smith drifted. Review held in March.");
        assert_eq!(found, vec!["Jane Smith".to_owned()]);
        assert_eq!(
            looks_like_names("the review of Jayden Smith's plan, and of Mia Jones\u{2019}s."),
            vec!["Jayden Smith".to_owned(), "Mia Jones".to_owned()]
        );
        assert!(looks_like_names("the 9-year-old's placement was moved without review").is_empty());
        // Acronyms and single capitals are not names.
        assert!(looks_like_names("The IRO wrote to the DCS").is_empty());
    }
}
