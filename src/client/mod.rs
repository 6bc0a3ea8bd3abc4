//! `iro-advice client …`: the end-to-end client. It encrypts and decrypts on the user's
//! machine with the age crate; the server only ever sees ciphertext.

mod api;
mod crypto;
mod profile;
mod transfer;

use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{json, Value};

use crate::queries::domain::{Category, DeclineReason, Outcome, Stage, Urgency};
use api::{check, http_client, Api};
use profile::{Profile, Settings, Tokens};

pub use crypto::{decrypt_armored, encrypt_armored, load_identity};

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("{0}")]
    Profile(String),
    #[error("{path}: {reason}")]
    Io { path: String, reason: String },
    #[error("cannot reach the server: {0}")]
    Http(#[from] reqwest::Error),
    #[error("the server refused ({status} {kind}): {detail}")]
    Api {
        status: u16,
        kind: String,
        detail: String,
    },
    #[error("encryption: {0}")]
    Crypto(String),
}

impl ClientError {
    fn io(path: &Path, e: std::io::Error) -> Self {
        ClientError::Io {
            path: path.display().to_string(),
            reason: e.to_string(),
        }
    }
}

#[derive(Args)]
pub struct ClientArgs {
    /// Where the server address, certificate, tokens and age identity are kept.
    #[arg(long, global = true)]
    profile_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Sign in; the password comes from a prompt or IRO_ADVICE_PASSWORD.
    Login {
        #[arg(long)]
        server: String,
        #[arg(long)]
        email: String,
        /// PEM certificate to trust for this server (e.g. data/tls/dev-cert.pem).
        #[arg(long)]
        ca: Option<PathBuf>,
        #[arg(long)]
        totp: Option<String>,
    },
    /// Write a new age identity file and register its public key.
    Keygen {
        /// Protect the identity file with a passphrase (and keep a wrapped copy on the
        /// server for a browser to unwrap).
        #[arg(long)]
        passphrase: bool,
        /// Replace an existing identity (queries encrypted to it become unreadable here).
        #[arg(long)]
        force: bool,
    },
    /// The advisers you may ask.
    Advisers,
    /// Ask an adviser a question; prints the new query's id on the last line.
    Ask {
        #[arg(long)]
        adviser: String,
        #[arg(long)]
        category: Category,
        #[arg(long)]
        stage: Stage,
        #[arg(long)]
        urgency: Urgency,
        /// The question, from a file; without it, your $EDITOR opens.
        #[arg(long)]
        body: Option<PathBuf>,
        #[arg(long = "attach")]
        attach: Vec<PathBuf>,
    },
    /// Your queries, or those addressed to you.
    Inbox,
    /// A query with its messages decrypted and its attachments listed.
    Show {
        id: String,
    },
    Reply {
        id: String,
        #[arg(long)]
        body: PathBuf,
    },
    Accept {
        id: String,
    },
    Decline {
        id: String,
        #[arg(long)]
        reason: DeclineReason,
    },
    /// Hand a query to another adviser, re-encrypting every message and attachment to them.
    Route {
        id: String,
        #[arg(long)]
        adviser: String,
    },
    Close {
        id: String,
        #[arg(long)]
        outcome: Outcome,
    },
    /// Encrypt and upload a file to a query.
    Attach {
        id: String,
        file: PathBuf,
    },
    /// Download and decrypt an attachment.
    Fetch {
        attachment_id: String,
        #[arg(long)]
        out: PathBuf,
    },
    /// Record pressure: being discouraged from seeking advice, refused funding, …
    Pressure {
        #[arg(long)]
        kind: crate::pressure::PressureKind,
        /// The day it happened, YYYY-MM-DD.
        #[arg(long)]
        date: chrono::NaiveDate,
        /// What happened, from a file; encrypted to you (and NAIRO when shared).
        #[arg(long)]
        narrative: Option<PathBuf>,
        /// Also encrypt the narrative to NAIRO, so NAIRO can read and act on it.
        #[arg(long)]
        share_with_nairo: bool,
    },
    /// The receipts of everything you did, as JSON files.
    Receipts {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// NAIRO's access report, disclosure-controlled, for periods that have ended.
    Stats {
        #[arg(long, value_name = "authority|region", default_value = "region")]
        by: crate::statistics::report::By,
        #[arg(long, value_name = "month|quarter", default_value = "quarter")]
        period: crate::statistics::period::PeriodLength,
        /// First month, YYYY-MM.
        #[arg(long)]
        from: crate::statistics::period::Month,
        /// Last month, YYYY-MM.
        #[arg(long)]
        to: crate::statistics::period::Month,
        /// Also write the report as CSV to this file.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
}

/// What a command prints: text for people, JSON with `--json`.
struct Output {
    text: String,
    json: Value,
}

impl Output {
    fn new(text: impl Into<String>, json: Value) -> Self {
        Output {
            text: text.into(),
            json,
        }
    }
}

pub fn run(args: ClientArgs) -> Result<(), ClientError> {
    let profile = Profile::locate(args.profile_dir.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Profile(e.to_string()))?;
    let out = runtime.block_on(dispatch(profile, args.command))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out.json).expect("serialisable")
        );
    } else if !out.text.is_empty() {
        println!("{}", out.text.trim_end());
    }
    Ok(())
}

async fn dispatch(profile: Profile, command: ClientCommand) -> Result<Output, ClientError> {
    match command {
        ClientCommand::Login {
            server,
            email,
            ca,
            totp,
        } => login(profile, server, email, ca, totp).await,
        command => {
            let api = Api::open(profile)?;
            match command {
                ClientCommand::Login { .. } => unreachable!(),
                ClientCommand::Keygen { passphrase, force } => {
                    keygen(&api, passphrase, force).await
                }
                ClientCommand::Advisers => advisers(&api).await,
                ClientCommand::Ask {
                    adviser,
                    category,
                    stage,
                    urgency,
                    body,
                    attach,
                } => ask(&api, &adviser, category, stage, urgency, body, &attach).await,
                ClientCommand::Inbox => inbox(&api).await,
                ClientCommand::Show { id } => show(&api, &id).await,
                ClientCommand::Reply { id, body } => reply(&api, &id, &body).await,
                ClientCommand::Accept { id } => transition(&api, &id, "accept", json!({})).await,
                ClientCommand::Decline { id, reason } => {
                    transition(&api, &id, "decline", json!({"reason": reason})).await
                }
                ClientCommand::Close { id, outcome } => {
                    transition(&api, &id, "close", json!({"outcome": outcome})).await
                }
                ClientCommand::Route { id, adviser } => route(&api, &id, &adviser).await,
                ClientCommand::Attach { id, file } => attach(&api, &id, &file).await,
                ClientCommand::Fetch { attachment_id, out } => {
                    fetch(&api, &attachment_id, &out).await
                }
                ClientCommand::Pressure {
                    kind,
                    date,
                    narrative,
                    share_with_nairo,
                } => pressure(&api, kind, date, narrative.as_deref(), share_with_nairo).await,
                ClientCommand::Receipts { out } => receipts(&api, out.as_deref()).await,
                ClientCommand::Stats {
                    by,
                    period,
                    from,
                    to,
                    csv,
                } => {
                    let path =
                        format!("/api/v1/stats/access?by={by}&period={period}&from={from}&to={to}");
                    stats(&api, &path, csv.as_deref()).await
                }
            }
        }
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, ClientError> {
    std::fs::read(path).map_err(|e| ClientError::io(path, e))
}

async fn login(
    profile: Profile,
    server: String,
    email: String,
    ca: Option<PathBuf>,
    totp: Option<String>,
) -> Result<Output, ClientError> {
    let server = server.trim_end_matches('/').to_owned();
    let ca_pem = ca.as_deref().map(read_file).transpose()?;
    let http = http_client(ca_pem.as_deref())?;
    let password = match std::env::var("IRO_ADVICE_PASSWORD") {
        Ok(p) => p,
        Err(_) => rpassword::prompt_password("Password: ")
            .map_err(|e| ClientError::Profile(e.to_string()))?,
    };
    let mut body = json!({"email": email, "password": password});
    if let Some(code) = &totp {
        body["totp_code"] = json!(code);
    }
    let url = format!("{server}/api/v1/auth/login");
    let mut res = check(http.post(&url).json(&body).send().await?).await;
    // Refused without a code, at a terminal: the account may need one, so ask and try once
    // more (the server answers every wrong detail alike, so it cannot say which).
    if let (Err(ClientError::Api { status: 401, .. }), None) = (&res, &totp) {
        use std::io::IsTerminal;
        if std::io::stdin().is_terminal() {
            let code = rpassword::prompt_password("TOTP code (from your authenticator app): ")
                .map_err(|e| ClientError::Profile(e.to_string()))?;
            body["totp_code"] = json!(code.trim());
            res = check(http.post(&url).json(&body).send().await?).await;
        }
    }
    let tokens: Tokens = res?.json().await?;
    if let Some(pem) = &ca_pem {
        profile.save_ca(pem)?;
    }
    profile.save_settings(&Settings {
        server: server.clone(),
        email: email.clone(),
    })?;
    profile.save_tokens(&tokens)?;
    Ok(Output::new(
        format!("Signed in to {server} as {email}."),
        json!({"server": server, "email": email}),
    ))
}

async fn keygen(api: &Api, passphrase: bool, force: bool) -> Result<Output, ClientError> {
    let path = api.profile().identity_path();
    if path.exists() && !force {
        return Err(ClientError::Profile(format!(
            "{} already exists; replacing it makes queries encrypted to it unreadable here (use --force)",
            path.display()
        )));
    }
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let text = crypto::identity_file_text(&identity);
    let mut body = json!({"age_recipient": recipient});
    let file = if passphrase {
        let phrase = match std::env::var("IRO_ADVICE_IDENTITY_PASSPHRASE") {
            Ok(p) => p,
            Err(_) => {
                let p = rpassword::prompt_password("New passphrase for your identity: ")
                    .map_err(|e| ClientError::Profile(e.to_string()))?;
                let again = rpassword::prompt_password("Again: ")
                    .map_err(|e| ClientError::Profile(e.to_string()))?;
                if p != again {
                    return Err(ClientError::Profile("the passphrases differ".into()));
                }
                p
            }
        };
        let wrapped = crypto::encrypt_with_passphrase(text.as_bytes(), &phrase)?;
        body["wrapped_identity"] = json!(wrapped);
        wrapped.into_bytes()
    } else {
        text.into_bytes()
    };
    api.profile().ensure_dir()?;
    crate::fsutil::write_private(&path, &file).map_err(|e| ClientError::io(&path, e))?;
    api.send_json(Method::PUT, "/api/v1/me/key", &body).await?;
    Ok(Output::new(
        format!(
            "Wrote {} and registered your public key:\n{recipient}",
            path.display()
        ),
        json!({"identity": path, "age_recipient": recipient}),
    ))
}

fn table(rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..rows.first().map_or(0, Vec::len))
        .map(|c| rows.iter().map(|r| r[c].chars().count()).max().unwrap_or(0))
        .collect();
    rows.iter()
        .map(|r| {
            r.iter()
                .enumerate()
                .map(|(i, cell)| format!("{cell:<w$}", w = widths[i]))
                .collect::<Vec<_>>()
                .join("  ")
                .trim_end()
                .to_owned()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn s(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

async fn advisers(api: &Api) -> Result<Output, ClientError> {
    let list: Value = api.get("/api/v1/advisers").await?;
    let mut rows = vec![vec!["ID".into(), "NAME".into(), "KIND".into()]];
    for a in list.as_array().into_iter().flatten() {
        rows.push(vec![s(&a["id"]), s(&a["display_name"]), s(&a["kind"])]);
    }
    Ok(Output::new(table(&rows), list))
}

/// Capitalised pairs ("Jane Smith") that may be a child's name.
fn looks_like_names(text: &str) -> Vec<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let capitalised = |w: &str| {
        let w = w.trim_matches(|c: char| !c.is_alphanumeric());
        let mut chars = w.chars();
        matches!(chars.next(), Some(c) if c.is_uppercase())
            && w.len() > 1
            && chars.all(|c| c.is_lowercase())
    };
    let mut found: Vec<String> = words
        .windows(2)
        .filter(|pair| capitalised(pair[0]) && capitalised(pair[1]))
        .map(|pair| {
            format!("{} {}", pair[0], pair[1])
                .trim_matches(|c: char| !c.is_alphanumeric())
                .to_owned()
        })
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
    crate::fsutil::write_private(
        &draft,
        format!("\n# {CHILD_NAME_REMINDER}\n# Lines starting with # are left out. Save and close to send.\n").as_bytes(),
    )
    .map_err(|e| ClientError::io(&draft, e))?;
    let editor = std::env::var("VISUAL")
        .or_else(|_| std::env::var("EDITOR"))
        .unwrap_or_else(|_| "vi".into());
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

fn own_identity(api: &Api) -> Result<age::x25519::Identity, ClientError> {
    load_identity(&api.profile().identity_path())
}

#[allow(clippy::too_many_arguments)]
async fn ask(
    api: &Api,
    adviser: &str,
    category: Category,
    stage: Stage,
    urgency: Urgency,
    body: Option<PathBuf>,
    attach: &[PathBuf],
) -> Result<Output, ClientError> {
    let (chosen, _, recipients) = with_adviser(api, adviser).await?;
    eprintln!("{CHILD_NAME_REMINDER}");
    let question = question_text(body, api.profile())?;
    let names = looks_like_names(&String::from_utf8_lossy(&question));
    if !names.is_empty() {
        eprintln!(
            "Warning: this may name someone: {}. Check before you send.",
            names.join(", ")
        );
    }
    let armored = encrypt_armored(&question, &recipients)?;
    let created = api
        .post(
            "/api/v1/queries",
            &json!({"adviser_id": adviser, "category": category, "stage": stage, "urgency": urgency, "body": armored}),
        )
        .await?;
    let id = s(&created["id"]);
    let mut attachments = Vec::new();
    for file in attach {
        attachments.push(
            transfer::upload(
                api,
                &format!("/api/v1/queries/{id}/attachments"),
                Method::POST,
                file,
                &recipients,
            )
            .await?,
        );
    }
    Ok(Output::new(
        format!(
            "Asked {}; {} attachment(s).\n{id}",
            s(&chosen["display_name"]),
            attachments.len()
        ),
        json!({"id": id, "status": created["status"], "attachments": attachments}),
    ))
}

async fn inbox(api: &Api) -> Result<Output, ClientError> {
    let list: Value = api.get("/api/v1/queries").await?;
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
    for q in list.as_array().into_iter().flatten() {
        rows.push(vec![
            s(&q["id"]),
            s(&q["status"]),
            s(&q["urgency"]),
            s(&q["category"]),
            s(&q["iro_name"]),
            s(&q["adviser_name"]),
            s(&q["message_count"]),
            s(&q["created_at"]).chars().take(16).collect(),
        ]);
    }
    Ok(Output::new(table(&rows), list))
}

async fn show(api: &Api, id: &str) -> Result<Output, ClientError> {
    let identity = own_identity(api)?;
    let mut detail: Value = api.get(&format!("/api/v1/queries/{id}")).await?;
    let mut text = format!(
        "Query {}\nstatus {}, {} {}, stage {}, authority {}\nIRO {}, adviser {}\n",
        s(&detail["id"]),
        s(&detail["status"]),
        s(&detail["urgency"]),
        s(&detail["category"]),
        s(&detail["stage"]),
        s(&detail["authority_code"]),
        s(&detail["iro_name"]),
        s(&detail["adviser_name"]),
    );
    if let Some(messages) = detail["messages"].as_array_mut() {
        for m in messages {
            let plain = match m["body"].as_str() {
                Some(body) => match decrypt_armored(body, &identity) {
                    Ok(p) => String::from_utf8_lossy(&p).into_owned(),
                    Err(e) => format!("[{e}]"),
                },
                None => "[erased]".into(),
            };
            text.push_str(&format!(
                "\n--- {} at {}\n{}\n",
                s(&m["sender_role"]),
                s(&m["created_at"]),
                plain
            ));
            m["text"] = json!(plain);
            m.as_object_mut().map(|o| o.remove("body"));
        }
    }
    let attachments = detail["attachments"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if !attachments.is_empty() {
        text.push_str("\nAttachments (fetch with `client fetch ID --out FILE`):\n");
        for a in &attachments {
            text.push_str(&format!(
                "  {}  {} bytes encrypted\n",
                s(&a["id"]),
                s(&a["size"])
            ));
        }
    }
    Ok(Output::new(text, detail))
}

/// The query's participants' keys, for replies and attachments.
async fn participants(api: &Api, id: &str) -> Result<Vec<age::x25519::Recipient>, ClientError> {
    let detail: Value = api.get(&format!("/api/v1/queries/{id}")).await?;
    let mut out = Vec::new();
    for key in ["iro_recipient", "adviser_recipient"] {
        let r = detail[key].as_str().ok_or_else(|| {
            ClientError::Profile(format!("the query's {key} has no key registered"))
        })?;
        out.push(crypto::recipient(r)?);
    }
    Ok(out)
}

async fn reply(api: &Api, id: &str, body: &Path) -> Result<Output, ClientError> {
    let recipients = participants(api, id).await?;
    let armored = encrypt_armored(&read_file(body)?, &recipients)?;
    let created = api
        .post(
            &format!("/api/v1/queries/{id}/messages"),
            &json!({"body": armored}),
        )
        .await?;
    Ok(Output::new(
        format!("Sent.\n{}", s(&created["id"])),
        created,
    ))
}

async fn transition(api: &Api, id: &str, action: &str, body: Value) -> Result<Output, ClientError> {
    let result = api
        .post(&format!("/api/v1/queries/{id}/{action}"), &body)
        .await?;
    Ok(Output::new(
        format!("Query {id} is now {}.", s(&result["status"])),
        result,
    ))
}

/// An adviser this IRO may ask, the IRO's identity, and the keys to encrypt to for both.
async fn with_adviser(
    api: &Api,
    adviser: &str,
) -> Result<(Value, age::x25519::Identity, Vec<age::x25519::Recipient>), ClientError> {
    let identity = own_identity(api)?;
    let advisers: Value = api.get("/api/v1/advisers").await?;
    let chosen = advisers
        .as_array()
        .into_iter()
        .flatten()
        .find(|a| a["id"] == adviser)
        .cloned()
        .ok_or_else(|| {
            ClientError::Profile(format!("{adviser} is not among the advisers you may ask"))
        })?;
    let recipients = vec![
        identity.to_public(),
        crypto::recipient(&s(&chosen["age_recipient"]))?,
    ];
    Ok((chosen, identity, recipients))
}

async fn route(api: &Api, id: &str, adviser: &str) -> Result<Output, ClientError> {
    let (chosen, identity, recipients) = with_adviser(api, adviser).await?;
    let detail: Value = api.get(&format!("/api/v1/queries/{id}")).await?;
    // Attachments first: if routing then fails, they are still readable by the IRO.
    for a in detail["attachments"].as_array().into_iter().flatten() {
        transfer::reencrypt(api, &s(&a["id"]), &identity, &recipients).await?;
    }
    let mut messages = Vec::new();
    for m in detail["messages"].as_array().into_iter().flatten() {
        let Some(body) = m["body"].as_str() else {
            continue;
        };
        let plain = decrypt_armored(body, &identity)?;
        messages.push(json!({"id": m["id"], "body": encrypt_armored(&plain, &recipients)?}));
    }
    let result = api
        .post(
            &format!("/api/v1/queries/{id}/route"),
            &json!({"adviser_id": adviser, "messages": messages}),
        )
        .await?;
    Ok(Output::new(
        format!("Query {id} routed to {}.", s(&chosen["display_name"])),
        result,
    ))
}

async fn attach(api: &Api, id: &str, file: &Path) -> Result<Output, ClientError> {
    let recipients = participants(api, id).await?;
    let created = transfer::upload(
        api,
        &format!("/api/v1/queries/{id}/attachments"),
        Method::POST,
        file,
        &recipients,
    )
    .await?;
    Ok(Output::new(
        format!("Attached.\n{}", s(&created["id"])),
        created,
    ))
}

async fn fetch(api: &Api, attachment: &str, out: &Path) -> Result<Output, ClientError> {
    let identity = own_identity(api)?;
    let written = transfer::download(api, attachment, out, &identity).await?;
    Ok(Output::new(
        format!("Wrote {} ({written} bytes).", out.display()),
        json!({"out": out, "bytes": written}),
    ))
}

async fn pressure(
    api: &Api,
    kind: crate::pressure::PressureKind,
    date: chrono::NaiveDate,
    narrative: Option<&Path>,
    share_with_nairo: bool,
) -> Result<Output, ClientError> {
    let mut body = json!({"kind": kind, "occurred_on": date.to_string(), "share_with_nairo": share_with_nairo});
    if let Some(file) = narrative {
        let mut recipients = vec![own_identity(api)?.to_public()];
        if share_with_nairo {
            let nairo: Value = api.get("/api/v1/nairo/recipient").await?;
            recipients.push(crypto::recipient(&s(&nairo["age_recipient"]))?);
        }
        body["narrative"] = json!(encrypt_armored(&read_file(file)?, &recipients)?);
    }
    let created = api.post("/api/v1/pressure-reports", &body).await?;
    Ok(Output::new(
        format!(
            "Recorded in the log as leaf {}.\n{}",
            s(&created["receipt"]["leaf_index"]),
            s(&created["id"])
        ),
        created,
    ))
}

async fn receipts(api: &Api, out: Option<&Path>) -> Result<Output, ClientError> {
    let list: Value = api.get("/api/v1/me/receipts").await?;
    let receipts = list.as_array().cloned().unwrap_or_default();
    let mut text = format!("{} receipt(s).", receipts.len());
    if let Some(dir) = out {
        std::fs::create_dir_all(dir).map_err(|e| ClientError::io(dir, e))?;
        for r in &receipts {
            let path = dir.join(format!("receipt-{}.json", s(&r["leaf_index"])));
            let bytes = serde_json::to_vec_pretty(r).expect("serialisable");
            std::fs::write(&path, bytes).map_err(|e| ClientError::io(&path, e))?;
        }
        text.push_str(&format!(
            " Written to {}; verify each with `iro-advice receipt verify FILE --key KEY`.",
            dir.display()
        ));
    }
    Ok(Output::new(text, list))
}

/// Prints the report as tables and, on request, writes it as CSV: both from one answer, so
/// that the two always agree and the server builds the report once.
async fn stats(api: &Api, path: &str, csv: Option<&Path>) -> Result<Output, ClientError> {
    use crate::statistics::report::AccessReport;
    let report: AccessReport = api.get(path).await?;
    let mut text = format!(
        "Access to advice by {}, per {}, {} to {}.\nRules: {}.\n",
        report.by,
        report.period,
        report.from,
        report.to,
        report.rules.join("; ")
    );
    if !report.not_yet_ended.is_empty() {
        text.push_str(&format!(
            "Not yet ended, so left out: {}.\n",
            report.not_yet_ended.join(", ")
        ));
    }
    const NATIONAL: &str = "England and Wales";
    for p in &report.periods {
        text.push_str(&format!("\n== {} ({} to {})\n", p.period, p.start, p.end));
        for t in &p.tables {
            text.push_str(&format!("\n-- {}", t.measure));
            if !t.rules_applied.is_empty() {
                text.push_str(&format!(" ({})", t.rules_applied.join("; ")));
            }
            text.push('\n');
            let line = |area: &str, cells: &[crate::statistics::disclosure::Cell], total| {
                std::iter::once(area.to_owned())
                    .chain(cells.iter().chain([total]).map(ToString::to_string))
                    .collect::<Vec<_>>()
            };
            let mut rows = vec![std::iter::once("area")
                .chain(t.columns.iter().map(String::as_str))
                .chain(["total"])
                .map(str::to_owned)
                .collect::<Vec<_>>()];
            rows.extend(
                t.rows
                    .iter()
                    .map(|r| line(&r.area.name, &r.cells, &r.total)),
            );
            rows.push(line(NATIONAL, &t.totals, &t.total));
            text.push_str(&table(&rows));
            text.push('\n');
        }
        let m = &p.median_hours_to_first_reply;
        text.push_str("\n-- median hours from submission to first reply\n");
        let mut rows = vec![vec!["area".to_owned(), "median_hours".to_owned()]];
        rows.extend(
            m.rows
                .iter()
                .map(|r| vec![r.area.name.clone(), r.median_hours.to_string()]),
        );
        rows.push(vec![NATIONAL.to_owned(), m.national.to_string()]);
        text.push_str(&table(&rows));
        text.push('\n');
    }
    if let Some(file) = csv {
        let body = crate::statistics::access::to_csv(&report);
        std::fs::write(file, body).map_err(|e| ClientError::io(file, e))?;
        text.push_str(&format!("\nCSV written to {}.\n", file.display()));
    }
    let json = serde_json::to_value(&report).expect("serialisable");
    Ok(Output::new(text, json))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn capitalised_pairs_are_flagged_as_possible_names() {
        let found = looks_like_names("The plan for Jane Smith drifted. Review held in March.");
        assert_eq!(found, vec!["Jane Smith".to_owned()]);
        assert!(looks_like_names("the 9-year-old's placement was moved without review").is_empty());
        // Acronyms and single capitals are not names.
        assert!(looks_like_names("The IRO wrote to the DCS").is_empty());
    }

    #[test]
    fn tables_align_columns() {
        let t = table(&[
            vec!["A".into(), "BB".into()],
            vec!["ccc".into(), "d".into()],
        ]);
        assert_eq!(t, "A    BB\nccc  d");
    }
}
