//! `iro-advice client …`: the end-to-end client. It encrypts and decrypts on the user's
//! machine with the age crate; the server only ever sees ciphertext.

mod account;
mod api;
mod audit;
mod crypto;
mod envelope;
mod error;
mod kept;
mod keys;
mod manage;
mod output;
mod profile;
mod queries;
pub mod receipt_verify;
mod records;
mod render;
mod stats;
mod transfer;
mod trust;
mod watch;
pub mod web_verify;

use std::path::PathBuf;

use clap::{Args, Subcommand};

use api::Api;
use iro_advice_api::paths;
use iro_advice_api::{CloseRequest, DeclineRequest};
use iro_advice_model::accounts::Role;
use iro_advice_model::queries::{Category, DeclineReason, Outcome, Stage, Urgency};
use profile::Profile;

pub use crypto::{decrypt_armored, encrypt_armored, load_identity};
pub use error::ClientError;
use output::Output;

#[derive(Args)]
pub struct ClientArgs {
    /// Where the server address, certificate, tokens and age identity are kept.
    #[arg(long, global = true)]
    profile_dir: Option<PathBuf>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    /// Encrypt to this account's changed key (after checking its fingerprint with them).
    #[arg(long = "accept-key-change", value_name = "ACCOUNT_ID", global = true)]
    accept_key_change: Vec<String>,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Subcommand)]
enum ClientCommand {
    /// Sign in; the password comes from a prompt or IRO_ADVICE_PASSWORD.
    Login {
        /// The service's https:// address; remembered, so later sign-ins may leave it out.
        #[arg(long)]
        server: Option<String>,
        #[arg(long)]
        email: String,
        /// PEM certificate to trust for this server (e.g. data/tls/dev-cert.pem); remembered.
        #[arg(long)]
        ca: Option<PathBuf>,
        #[arg(long)]
        totp: Option<String>,
        /// The log's verifier key, as NAIRO publishes it; without it (and without
        /// --witness), the keys the server advertises are pinned on first use.
        #[arg(long)]
        log_key: Option<String>,
        /// A witness's cosignature/v1 verifier key; repeat for several.
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// How many witnesses must cosign a checkpoint (default: all pinned).
        #[arg(long)]
        quorum: Option<usize>,
    },
    /// Enrol a second factor (an authenticator app, TOTP): every account needs one before
    /// anything else answers it. Without --code, prints the secret to add to the app and,
    /// at a terminal, asks for the code it then shows.
    Totp {
        /// The code the authenticator app shows, to finish an enrolment begun earlier.
        #[arg(long)]
        code: Option<String>,
    },
    /// Change your password: the current one from IRO_ADVICE_PASSWORD or a prompt, the new
    /// one from IRO_ADVICE_NEW_PASSWORD or a prompt (twice). Every other session ends.
    Password {
        /// A current code from your authenticator app.
        #[arg(long)]
        totp: String,
    },
    /// End this profile's session on the server and forget its tokens (the identity file
    /// and pinned keys stay).
    Logout,
    /// Write a new age identity file and register its public key.
    Keygen {
        /// Protect the identity file with a passphrase (and keep a wrapped copy on the
        /// server for a browser to unwrap).
        #[arg(long)]
        passphrase: bool,
        /// Replace an existing identity (queries encrypted to it become unreadable here).
        #[arg(long)]
        force: bool,
        /// A current TOTP code: replacing a registered key needs one.
        #[arg(long)]
        totp: Option<String>,
    },
    /// The advisers you may ask.
    Advisers,
    /// Ask an adviser a question; prints the new query's id on the last line.
    Ask {
        #[arg(long)]
        adviser: String,
        #[arg(
            long,
            value_name = "care_plan_drift|placement|contact|permanence|legal_status|cafcass_referral|human_rights|dispute_resolution|other"
        )]
        category: Category,
        /// How far your challenge has gone.
        #[arg(
            long,
            value_name = "none|informal|formal|senior_management|dcs|cafcass"
        )]
        stage: Stage,
        #[arg(long, value_name = "routine|urgent")]
        urgency: Urgency,
        /// The question, from a file; without it, your $EDITOR opens.
        #[arg(long)]
        body: Option<PathBuf>,
        /// A file to attach (repeat for several); each is checked before anything is sent.
        #[arg(long = "attach")]
        attach: Vec<PathBuf>,
        /// Send even though the question may name someone (without a terminal to ask on).
        #[arg(long)]
        yes: bool,
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
        #[arg(long, value_name = "conflict|capacity|expertise|other")]
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
        #[arg(
            long,
            value_name = "advice_given|resolved_informally|escalated|referred_to_cafcass|withdrawn"
        )]
        outcome: Outcome,
    },
    /// Encrypt and upload a file to a query.
    Attach {
        id: String,
        file: PathBuf,
    },
    /// Download and decrypt an attachment, saved under the name it was sent with.
    Fetch {
        attachment_id: String,
        /// Save as this file instead of under the sender's file name.
        #[arg(long, conflicts_with = "dir")]
        out: Option<PathBuf>,
        /// Save into this folder (default: the current one) under the sender's file name.
        #[arg(long)]
        dir: Option<PathBuf>,
        /// Overwrite a file that already exists.
        #[arg(long)]
        force: bool,
    },
    /// Record pressure: being discouraged from seeking advice, refused funding, …
    /// (`client pressure list` shows your reports.)
    #[command(args_conflicts_with_subcommands = true)]
    Pressure {
        #[command(subcommand)]
        list: Option<PressureList>,
        #[arg(
            long,
            required = true,
            value_name = "discouraged_from_advice|refused_funding|threatened_discipline|told_to_use_authority_lawyers|escalation_blocked|other"
        )]
        kind: Option<iro_advice_model::pressure::PressureKind>,
        /// The day it happened, YYYY-MM-DD.
        #[arg(long, required = true)]
        date: Option<chrono::NaiveDate>,
        /// What happened, from a file; encrypted to you (and NAIRO when shared).
        #[arg(long)]
        narrative: Option<PathBuf>,
        /// Also encrypt the narrative to NAIRO, so NAIRO can read and act on it.
        #[arg(long)]
        share_with_nairo: bool,
    },
    /// Advisers: declare the authorities you have a conflict with (none clears them). The
    /// log records each change, and this profile remembers the ones made here.
    Conflicts {
        /// An authority's ONS code; repeat for several.
        #[arg(long = "authority", value_parser = authority_code)]
        authorities: Vec<iro_advice_model::authorities::AuthorityCode>,
    },
    /// NAIRO: the pressure reports IROs shared with NAIRO, narratives decrypted here.
    Narratives,
    /// Every sign-in to your account that the log holds (since this profile began watching),
    /// beside your sessions that have not ended: one you do not recognise was not you.
    Sessions,
    /// Advisers: whether new queries may be routed to you.
    Availability {
        #[arg(long, value_name = "true|false", action = clap::ArgAction::Set)]
        accepting: bool,
    },
    /// On a new device: your identity from its passphrase-protected copy on the server.
    Restore {
        /// A current code from your authenticator app.
        #[arg(long)]
        totp: String,
        /// Replace an identity file already in this profile.
        #[arg(long)]
        force: bool,
    },
    /// Admins (any role) and NAIRO (IROs): invite someone. The link goes to their email; the
    /// code printed here goes to them another way.
    Invite {
        #[arg(long, value_name = "iro|adviser|nairo|admin")]
        role: Role,
        #[arg(long)]
        email: String,
        /// The employing authority's ONS code (IROs and peer advisers).
        #[arg(long, value_parser = authority_code)]
        authority: Option<iro_advice_model::authorities::AuthorityCode>,
        #[arg(long, value_name = "solicitor|peer")]
        adviser_kind: Option<iro_advice_model::accounts::AdviserKind>,
    },
    /// Admins: every account.
    Accounts,
    /// Admins: refuse an account, and every session it has, from now on.
    Suspend {
        id: String,
    },
    /// Admins: let a suspended account sign in again.
    Reactivate {
        id: String,
    },
    /// Admins: approve an IRO whom NAIRO nominated, who counts in the statistics from now.
    Approve {
        id: String,
    },
    /// Your key's fingerprint and those of the people whose keys this profile pinned, to
    /// compare by phone.
    Keys,
    /// The receipts of everything you did, as JSON files.
    Receipts {
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// NAIRO's access report, disclosure-controlled, for periods that have ended.
    Stats {
        #[arg(long, value_name = "authority|region", default_value = "region")]
        by: iro_advice_model::period::By,
        #[arg(long, value_name = "month|quarter", default_value = "quarter")]
        period: iro_advice_model::period::PeriodLength,
        /// First month, YYYY-MM.
        #[arg(long)]
        from: iro_advice_model::period::Month,
        /// Last month, YYYY-MM.
        #[arg(long)]
        to: iro_advice_model::period::Month,
        /// Also write the report as CSV to this file.
        #[arg(long)]
        csv: Option<PathBuf>,
    },
    /// NAIRO's audit: every opening of the log, decrypted with NAIRO's identity and checked
    /// against its leaf, and every release's published numbers recounted from them.
    Audit {
        /// NAIRO's age identity (the key IRO_ADVICE_NAIRO_RECIPIENT names).
        #[arg(long)]
        identity: PathBuf,
    },
}

#[derive(Subcommand)]
enum PressureList {
    /// Your pressure reports, narratives decrypted here.
    List,
}

/// The variables the client reads, so that none is mistaken for a misspelt setting.
pub const ENVIRONMENT: &[&str] = &[
    "IRO_ADVICE_PASSWORD",
    "IRO_ADVICE_NEW_PASSWORD",
    "IRO_ADVICE_IDENTITY_PASSPHRASE",
];

/// The exit status of an audit that found a leaf without its opening, an altered opening,
/// or a release that does not match the log.
pub const EXIT_AUDIT_FAILED: u8 = 5;

/// The exit status of a client that found the service's log rewritten.
pub const EXIT_LOG_REWRITTEN: u8 = 3;
/// The exit status of a client that found a key for its own account it did not register.
pub const EXIT_KEY_ALARM: u8 = 4;

pub fn run(args: ClientArgs) -> Result<(), ClientError> {
    let profile = Profile::locate(args.profile_dir.as_deref())?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| ClientError::Profile(e.to_string()))?;
    let out = runtime.block_on(dispatch(profile, args.command, args.accept_key_change))?;
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&out.json)
                .map_err(|e| ClientError::Profile(e.to_string()))?
        );
    } else if !out.text.is_empty() {
        println!("{}", out.text.trim_end());
    }
    Ok(())
}

async fn dispatch(
    profile: Profile,
    command: ClientCommand,
    accept_key_change: Vec<String>,
) -> Result<Output, ClientError> {
    let api = match command {
        ClientCommand::Login {
            server,
            email,
            ca,
            totp,
            log_key,
            witnesses,
            quorum,
        } => {
            let login = account::Login {
                server,
                email,
                ca,
                totp,
                trust: trust::Requested {
                    log_key,
                    witnesses,
                    quorum,
                },
            };
            return account::login(profile, login).await;
        }
        // Before the checks below: an account yet to enrol may read nothing else, and one
        // signing out should not be kept in by a check.
        ClientCommand::Totp { code } => {
            return account::totp(&Api::open(profile)?, code).await;
        }
        ClientCommand::Logout => return account::logout(&Api::open(profile)?).await,
        _ => Api::open(profile)?.accepting_key_changes(accept_key_change),
    };
    // Before anything else, the log must not have gone back on what this profile saw.
    {
        let (http, server) = api.public();
        let pinned = api.profile().pinned()?.ok_or_else(|| {
            ClientError::Profile(
                "this profile has no pinned log key: run `iro-advice client login` again".into(),
            )
        })?;
        trust::check_log(http, server, api.profile(), &pinned).await?;
        // And every act's receipt this profile keeps must be in the witnessed log, or
        // still within its time to get there.
        if let Some((cosigned, note)) = trust::held_checkpoint(api.profile(), &pinned)? {
            watch::check_kept(&api, &cosigned, &note).await?;
        }
    }
    // And the service must not hold a key for this account that this profile did not make:
    // neither as its current key, nor in any key event logged since the last look. (`keys`
    // still runs, to show fingerprints to compare.)
    if !matches!(command, ClientCommand::Keys) {
        let me: iro_advice_api::Me = api.get(paths::ME).await?;
        keys::watch_own_key(&api, &me).await?;
        watch::watch(&api, &me).await?;
        records::check_own_reports(&api, &me).await?;
    }
    match command {
        ClientCommand::Login { .. } | ClientCommand::Totp { .. } | ClientCommand::Logout => {
            unreachable!("handled above")
        }
        ClientCommand::Password { totp } => account::password(&api, totp).await,
        ClientCommand::Keygen {
            passphrase,
            force,
            totp,
        } => account::keygen(&api, passphrase, force, totp).await,
        ClientCommand::Advisers => queries::advisers(&api).await,
        ClientCommand::Ask {
            adviser,
            category,
            stage,
            urgency,
            body,
            attach,
            yes,
        } => {
            let question = queries::Question {
                adviser,
                category,
                stage,
                urgency,
            };
            queries::ask(&api, question, body, &attach, yes).await
        }
        ClientCommand::Inbox => queries::inbox(&api).await,
        ClientCommand::Show { id } => queries::show(&api, &id).await,
        ClientCommand::Reply { id, body } => queries::reply(&api, &id, &body).await,
        ClientCommand::Accept { id } => queries::transition(&api, &id, "accept", &NoBody {}).await,
        ClientCommand::Decline { id, reason } => {
            queries::transition(&api, &id, "decline", &DeclineRequest { reason }).await
        }
        ClientCommand::Close { id, outcome } => {
            queries::transition(&api, &id, "close", &CloseRequest { outcome }).await
        }
        ClientCommand::Route { id, adviser } => queries::route(&api, &id, &adviser).await,
        ClientCommand::Attach { id, file } => queries::attach(&api, &id, &file).await,
        ClientCommand::Fetch {
            attachment_id,
            out,
            dir,
            force,
        } => {
            let to = match (out, dir) {
                (Some(file), _) => queries::SaveTo::File(file),
                (None, dir) => queries::SaveTo::Dir(dir.unwrap_or_else(|| PathBuf::from("."))),
            };
            queries::fetch(&api, &attachment_id, to, force).await
        }
        ClientCommand::Pressure {
            list: Some(PressureList::List),
            ..
        }
        | ClientCommand::Narratives => manage::reports(&api).await,
        ClientCommand::Pressure {
            list: None,
            kind,
            date,
            narrative,
            share_with_nairo,
        } => {
            // clap requires both without the subcommand.
            let (Some(kind), Some(date)) = (kind, date) else {
                return Err(ClientError::Profile(
                    "--kind and --date are required".into(),
                ));
            };
            records::pressure(&api, kind, date, narrative.as_deref(), share_with_nairo).await
        }
        ClientCommand::Availability { accepting } => manage::availability(&api, accepting).await,
        ClientCommand::Sessions => manage::sessions(&api).await,
        ClientCommand::Restore { totp, force } => manage::restore(&api, &totp, force).await,
        ClientCommand::Invite {
            role,
            email,
            authority,
            adviser_kind,
        } => manage::invite(&api, role, &email, authority, adviser_kind).await,
        ClientCommand::Accounts => manage::accounts(&api).await,
        ClientCommand::Suspend { id } => manage::set_status(&api, &id, "suspend").await,
        ClientCommand::Reactivate { id } => manage::set_status(&api, &id, "reactivate").await,
        ClientCommand::Approve { id } => manage::set_status(&api, &id, "approve").await,
        ClientCommand::Receipts { out } => records::receipts(&api, out.as_deref()).await,
        ClientCommand::Keys => keys::show(&api).await,
        ClientCommand::Conflicts { authorities } => account::conflicts(&api, authorities).await,
        ClientCommand::Stats {
            by,
            period,
            from,
            to,
            csv,
        } => {
            let path = format!(
                "{}?by={by}&period={period}&from={from}&to={to}",
                paths::STATS_ACCESS
            );
            stats::stats(&api, &path, csv.as_deref()).await
        }
        ClientCommand::Audit { identity } => audit::audit(&api, &identity).await,
    }
}

/// `iro-advice audit`: the client's audit, from a NAIRO reviewer's profile.
pub fn run_audit(
    profile_dir: Option<PathBuf>,
    identity: PathBuf,
    json: bool,
) -> Result<(), ClientError> {
    run(ClientArgs {
        profile_dir,
        json,
        accept_key_change: Vec::new(),
        command: ClientCommand::Audit { identity },
    })
}

fn authority_code(code: &str) -> Result<iro_advice_model::authorities::AuthorityCode, String> {
    iro_advice_model::authorities::AuthorityCode::parse(code).map_err(|e| e.to_string())
}

/// The empty JSON object that an accept carries.
#[derive(serde::Serialize)]
struct NoBody {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every value an option's help names parses, and the help names every value: the
    /// lists are written out for people, so they are checked against the vocabularies.
    #[test]
    fn help_lists_exactly_the_allowed_values() {
        use clap::CommandFactory;
        #[derive(clap::Parser)]
        struct Cli {
            #[command(flatten)]
            args: ClientArgs,
        }
        let command = Cli::command();
        let named = |sub: &str, arg: &str| -> Vec<String> {
            let sub = command.find_subcommand(sub).unwrap();
            let arg = sub.get_arguments().find(|a| a.get_id() == arg).unwrap();
            arg.get_value_names().unwrap()[0]
                .split('|')
                .map(str::to_owned)
                .collect()
        };
        let check = |values: Vec<String>, all: Vec<String>| assert_eq!(values, all);
        check(
            named("ask", "category"),
            Category::ALL
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        );
        check(
            named("ask", "stage"),
            Stage::ALL.iter().map(|c| c.as_str().to_owned()).collect(),
        );
        check(
            named("ask", "urgency"),
            Urgency::ALL.iter().map(|c| c.as_str().to_owned()).collect(),
        );
        check(
            named("decline", "reason"),
            DeclineReason::ALL
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        );
        check(
            named("close", "outcome"),
            Outcome::ALL.iter().map(|c| c.as_str().to_owned()).collect(),
        );
        check(
            named("pressure", "kind"),
            iro_advice_model::pressure::PressureKind::ALL
                .iter()
                .map(|c| c.as_str().to_owned())
                .collect(),
        );
    }
}
