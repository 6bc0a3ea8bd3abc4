//! The `iro-advice` command line.

use std::process::ExitCode;

use clap::{Parser, Subcommand};

use iro_advice_model::accounts::{AdviserKind, Email, Role};
use iro_advice_model::authorities::AuthorityCode;
use iro_advice_server::accounts::invitations::{self, Invitee};
use iro_advice_server::config::Settings;
use iro_advice_server::http::server::{self, Application};
use iro_advice_server::keys::Keys;

#[derive(Parser)]
#[command(
    name = "iro-advice",
    version,
    about = "Independent legal advice for IROs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run pending migrations, then serve HTTPS until SIGTERM or Ctrl-C.
    Serve,
    /// Run pending migrations only.
    Migrate,
    /// What the settings are: the defaults file and the reference, written from the
    /// declarations in the code (`config/default.toml`, the book's configuration chapter).
    #[command(subcommand)]
    Config(ConfigCommand),
    /// The HTTP API's description, from the route table: the OpenAPI document, or the web
    /// application's TypeScript types generated from it.
    #[command(subcommand)]
    Openapi(OpenapiFormat),
    /// Copy the SQLite database while the service runs, owner-only, and check the copy as
    /// `log verify` does (PostgreSQL: use pg_dump). Keys are not in it: back them up apart.
    Backup {
        /// The file to write; it must not exist.
        #[arg(long)]
        out: std::path::PathBuf,
    },
    /// Put a backup in place of the SQLite database, the service stopped. Refused when it
    /// would roll the request log back behind the database in place or a witness.
    Restore {
        #[arg(long)]
        from: std::path::PathBuf,
        /// Restore even though the log goes back: acts logged since are lost, and clients
        /// and witnesses that saw them will say so.
        #[arg(long)]
        accept_rollback: bool,
    },
    /// Operator commands that act on the database directly.
    #[command(subcommand)]
    Admin(AdminCommand),
    /// The end-to-end client: encrypts and decrypts on this machine.
    Client(iro_advice_client::ClientArgs),
    /// NAIRO's audit of the log and the statistics releases, from a NAIRO reviewer's client
    /// profile: every opening decrypted with NAIRO's identity and checked against its leaf,
    /// every release's numbers recounted from them. Exit status 5 when anything differs.
    Audit {
        /// NAIRO's age identity (the key IRO_ADVICE_NAIRO_RECIPIENT names).
        #[arg(long)]
        identity: std::path::PathBuf,
        /// The reviewer's client profile (as for `client`).
        #[arg(long)]
        profile_dir: Option<std::path::PathBuf>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// The request log.
    #[command(subcommand)]
    Log(LogCommand),
    /// Receipts.
    #[command(subcommand)]
    Receipt(ReceiptCommand),
    /// The web application.
    #[command(subcommand)]
    Web(WebCommand),
    /// Synthetic data, for trying the service out (refused under the production profile).
    #[cfg(feature = "demo")]
    #[command(subcommand)]
    Demo(DemoCommand),
    /// A C2SP tlog-witness, for NAIRO or any independent body to run on its own machine.
    #[command(subcommand)]
    Witness(WitnessCommand),
    /// NAIRO's statistics releases.
    #[command(subcommand)]
    Stats(StatsCommand),
}

#[derive(Subcommand)]
enum OpenapiFormat {
    /// The OpenAPI document, as `GET /api/v1/openapi.json` serves it.
    Json,
    /// The web application's types, generated from the document (`web/src/api-types.ts`).
    Typescript,
    /// The book's HTTP reference, rendered from the document (`book/src/api/reference.md`).
    Markdown,
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Every setting with its default, as TOML (`config/default.toml`).
    Defaults,
    /// The configuration reference, as Markdown.
    Reference,
    /// Read the settings as `serve` would (files, then environment), load the certificate,
    /// and say what the service would run with; non-zero exit naming the first problem.
    Check,
}

#[derive(Subcommand)]
enum StatsCommand {
    /// Build every release that is due and missing (a new deployment, or after downtime),
    /// or the release of one period (`2026-03`, `2026-Q1`, `2026`) and those it builds on.
    Release {
        #[arg(long)]
        period: Option<iro_advice_model::period::Period>,
    },
    /// Audit every stored release by linear programming, from what it publishes alone, and
    /// print the narrowest withheld numbers; fails if any keeps fewer than 4 values.
    Audit {
        /// How many of the narrowest to print.
        #[arg(long, default_value_t = 20)]
        show: usize,
    },
}

#[derive(Subcommand)]
enum WitnessCommand {
    /// Make the witness's Ed25519 key and state; prints its verifier key (cosignature/v1)
    /// on the last line.
    Init {
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// The witness's name, a schema-less URL such as `nairo.org.uk/witness`.
        #[arg(long)]
        name: String,
    },
    /// Serve `POST /add-checkpoint` for the logs whose verifier keys are given.
    Serve {
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// Address to listen on, e.g. 127.0.0.1:7380.
        #[arg(long)]
        listen: std::net::SocketAddr,
        /// A log's verifier key (as `GET /api/v1/log/key` gives it); repeat for several.
        #[arg(long = "log", required = true)]
        logs: Vec<String>,
        /// Serve HTTPS with this PEM certificate chain (with --tls-key); plain HTTP without.
        #[arg(long, requires = "tls_key")]
        tls_cert: Option<std::path::PathBuf>,
        /// The PEM private key of --tls-cert.
        #[arg(long, requires = "tls_cert")]
        tls_key: Option<std::path::PathBuf>,
    },
    /// Print the log-signed checkpoints refused because they contradict one cosigned.
    Evidence {
        #[arg(long)]
        data_dir: std::path::PathBuf,
    },
}

#[cfg(feature = "demo")]
#[derive(Subcommand)]
enum DemoCommand {
    /// Fill an empty database with clearly synthetic accounts, queries, pressure reports
    /// and their log events, spread over past months.
    Seed {
        /// How many IROs (advisers are added in proportion).
        #[arg(long, default_value_t = 600)]
        iros: usize,
        /// How many queries, up to 1,000,000.
        #[arg(long, default_value_t = 20_000)]
        queries: usize,
        /// The first month of activity, YYYY-MM (default: two years ago).
        #[arg(long)]
        from: Option<iro_advice_model::period::Month>,
        /// Stop at the start of this month, YYYY-MM (default: now): with it, the same seed
        /// gives the same data on any later day.
        #[arg(long)]
        until: Option<iro_advice_model::period::Month>,
        /// The same number gives the same data.
        #[arg(long, default_value_t = 1)]
        seed: u64,
    },
}

#[derive(Subcommand)]
enum LogCommand {
    /// Recompute the whole log from the database and check every stored checkpoint; exits
    /// non-zero naming the first bad index.
    Verify {
        /// Also check signed checkpoints held outside the database (a witness's, a
        /// client's): fails if the database is behind or forked from any of them.
        #[arg(long = "checkpoint", value_name = "FILE")]
        checkpoints: Vec<std::path::PathBuf>,
    },
}

#[derive(Subcommand)]
enum ReceiptCommand {
    /// Verify a receipt: the log's signature and the inclusion proof (offline), the
    /// witnesses' cosignatures, and, given a newer checkpoint, that the log still holds it.
    Verify(ReceiptVerify),
}

#[derive(clap::Args)]
struct ReceiptVerify {
    file: std::path::PathBuf,
    /// The log's verifier key (`name+id+key`), or a file holding it.
    #[arg(long)]
    key: String,
    /// A witness's cosignature/v1 verifier key; repeat for several.
    #[arg(long = "witness")]
    witnesses: Vec<String>,
    /// How many of the witnesses must have cosigned (default: all given).
    #[arg(long)]
    quorum: Option<usize>,
    /// A newer signed checkpoint (a file): the receipt's tree must be a prefix of it.
    #[arg(long)]
    checkpoint: Option<std::path::PathBuf>,
    /// The service, for its current checkpoint (without --checkpoint) and the consistency
    /// proof between the two trees.
    #[arg(long)]
    server: Option<String>,
    /// PEM certificate to trust for --server.
    #[arg(long)]
    ca: Option<std::path::PathBuf>,
}

impl From<ReceiptVerify> for iro_advice_client::receipt_verify::Request {
    fn from(a: ReceiptVerify) -> Self {
        iro_advice_client::receipt_verify::Request {
            file: a.file,
            key: a.key,
            witnesses: a.witnesses,
            quorum: a.quorum,
            checkpoint: a.checkpoint,
            server: a.server,
            ca: a.ca,
        }
    }
}

#[derive(Subcommand)]
enum WebCommand {
    /// Check every file the service serves as the web application against the manifest the
    /// log published, in a checkpoint the witnesses cosigned. Non-zero exit on any
    /// difference.
    Verify {
        /// The service, https://…
        #[arg(long)]
        server: String,
        /// PEM certificate to trust for --server.
        #[arg(long)]
        ca: Option<std::path::PathBuf>,
        /// The log's verifier key (`name+id+key`) you hold; default: the server's own.
        #[arg(long)]
        log_key: Option<String>,
        /// A witness's cosignature/v1 verifier key; repeat for several.
        #[arg(long = "witness")]
        witnesses: Vec<String>,
        /// How many of the witnesses must have cosigned (default: all given).
        #[arg(long)]
        quorum: Option<usize>,
        /// The manifest the served application must match, from a build of the version you
        /// expect (default: the application built into this binary).
        #[arg(long)]
        manifest: Option<std::path::PathBuf>,
    },
    /// Print the manifest of the application built into this binary, for `web verify
    /// --manifest` on a machine whose binary is another version.
    Manifest,
}

#[derive(Subcommand)]
enum AdminCommand {
    /// Create an invitation and print its token on the last line (bootstraps the first admin).
    Invite {
        #[arg(long)]
        role: Role,
        #[arg(long)]
        email: String,
        /// ONS code of the employing authority (IROs and peer advisers).
        #[arg(long)]
        authority: Option<String>,
        #[arg(long, value_name = "solicitor|peer")]
        adviser_kind: Option<AdviserKind>,
    },
    /// Reset the second factor of an account whose owner has lost it (after checking who is
    /// asking, by a channel other than email): TOTP and passkeys removed, every session
    /// ended, a leaf in the log, the owner mailed. They sign in with the password and enrol
    /// again.
    ResetSecondFactor {
        #[arg(long)]
        email: String,
    },
    /// Erase a query's content (messages and attachments) or a pressure report's narrative,
    /// for an erasure request. The log keeps its leaves.
    Erase {
        #[arg(
            long,
            conflicts_with = "pressure_report",
            required_unless_present = "pressure_report"
        )]
        query: Option<String>,
        #[arg(long)]
        pressure_report: Option<String>,
    },
}

pub fn main() -> ExitCode {
    let cli = Cli::parse();
    // The client and receipt verification need none of the server's settings.
    let command = match cli.command {
        Command::Client(args) => {
            return match iro_advice_client::run(args) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e @ iro_advice_client::ClientError::Rewritten(_)) => {
                    eprintln!("iro-advice: {e}");
                    ExitCode::from(iro_advice_client::EXIT_LOG_REWRITTEN)
                }
                Err(e @ iro_advice_client::ClientError::KeyAlarm(_)) => {
                    eprintln!("iro-advice: {e}");
                    ExitCode::from(iro_advice_client::EXIT_KEY_ALARM)
                }
                Err(e) => fail(e),
            }
        }
        Command::Audit {
            identity,
            profile_dir,
            json,
        } => {
            return match iro_advice_client::run_audit(profile_dir, identity, json) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e @ iro_advice_client::ClientError::Audit(_)) => {
                    eprintln!("iro-advice: {e}");
                    ExitCode::from(iro_advice_client::EXIT_AUDIT_FAILED)
                }
                Err(e) => fail(e),
            }
        }
        Command::Receipt(ReceiptCommand::Verify(args)) => {
            return match iro_advice_client::receipt_verify::verify(args.into()) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        Command::Web(WebCommand::Manifest) => {
            println!(
                "{}",
                iro_advice_server::web::assets::embedded_manifest().to_json()
            );
            return ExitCode::SUCCESS;
        }
        Command::Web(WebCommand::Verify {
            server,
            ca,
            log_key,
            witnesses,
            quorum,
            manifest,
        }) => {
            use iro_advice_client::web_verify::Expected;
            let expected = match manifest {
                None => {
                    Expected::BuiltIn(iro_advice_server::web::assets::embedded_manifest().clone())
                }
                Some(path) => match std::fs::read_to_string(&path) {
                    Ok(json) => Expected::File {
                        path: path.display().to_string(),
                        json,
                    },
                    Err(e) => {
                        eprintln!("--manifest {}: {e}", path.display());
                        return ExitCode::from(2);
                    }
                },
            };
            let request = iro_advice_client::web_verify::Request {
                server,
                ca,
                log_key,
                witnesses,
                quorum,
                expected,
            };
            return match web_verify(request) {
                Ok(lines) => {
                    for line in lines {
                        println!("{line}");
                    }
                    ExitCode::SUCCESS
                }
                Err(e) => fail(e),
            };
        }
        // What the settings are needs no settings.
        Command::Config(ConfigCommand::Defaults) => {
            print!("{}", iro_advice_server::config::default_file());
            return ExitCode::SUCCESS;
        }
        Command::Config(ConfigCommand::Reference) => {
            print!("{}", iro_advice_server::config::reference());
            return ExitCode::SUCCESS;
        }
        Command::Openapi(format) => {
            let doc = iro_advice_server::http::routes::openapi();
            match format {
                OpenapiFormat::Json => println!("{doc:#}"),
                OpenapiFormat::Markdown => {
                    print!("{}", iro_advice_server::http::reference::markdown(&doc))
                }
                OpenapiFormat::Typescript => {
                    print!(
                        "{}",
                        iro_advice_server::http::typescript::declarations(&doc)
                    )
                }
            }
            return ExitCode::SUCCESS;
        }
        // A witness runs on someone else's machine, with none of the service's settings.
        Command::Witness(command) => {
            return match witness(command) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => fail(e),
            }
        }
        other => other,
    };
    let settings = match Settings::from_env() {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    iro_advice_server::telemetry::init(&settings);
    let result = match command {
        Command::Serve => serve(settings),
        Command::Config(ConfigCommand::Check) => config_check(&settings),
        Command::Migrate => migrate(&settings),
        Command::Admin(AdminCommand::Invite {
            role,
            email,
            authority,
            adviser_kind,
        }) => invite(&settings, role, &email, authority.as_deref(), adviser_kind),
        Command::Admin(AdminCommand::ResetSecondFactor { email }) => {
            reset_second_factor(&settings, &email)
        }
        Command::Admin(AdminCommand::Erase {
            query,
            pressure_report,
        }) => erase(&settings, query.as_deref(), pressure_report.as_deref()),
        Command::Log(LogCommand::Verify { checkpoints }) => verify_log(&settings, &checkpoints),
        Command::Backup { out } => backup(&settings, &out),
        Command::Restore {
            from,
            accept_rollback,
        } => restore(&settings, &from, accept_rollback),
        Command::Stats(StatsCommand::Release { period }) => stats_release(&settings, period),
        Command::Stats(StatsCommand::Audit { show }) => stats_audit(&settings, show),
        #[cfg(feature = "demo")]
        Command::Demo(DemoCommand::Seed {
            iros,
            queries,
            from,
            until,
            seed,
        }) => demo_seed(&settings, iros, queries, (from, until), seed),
        Command::Client(_)
        | Command::Audit { .. }
        | Command::Receipt(_)
        | Command::Witness(_)
        | Command::Web(_)
        | Command::Config(ConfigCommand::Defaults | ConfigCommand::Reference)
        | Command::Openapi(_) => {
            unreachable!("handled above")
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

fn config_check(settings: &Settings) -> CliResult {
    use iro_advice_server::config::DatabaseUrl;
    use iro_advice_server::tls::{self, TlsSource};
    let certificate = match tls::source(&settings.server) {
        TlsSource::Files(files) => {
            tls::server_config_from(&files, ("IRO_ADVICE_TLS_CERT", "IRO_ADVICE_TLS_KEY"))?;
            format!("{} (loads, with its key)", files.cert.display())
        }
        TlsSource::Generated => format!(
            "self-signed, generated under {}",
            settings.server.data_dir.display()
        ),
    };
    // A PostgreSQL URL may hold a password: only the kind is said.
    let database = match settings.database.url() {
        DatabaseUrl::Sqlite(path) => format!("SQLite, {}", path.display()),
        DatabaseUrl::Postgres(_) => "PostgreSQL (DATABASE_URL)".to_owned(),
    };
    let mail = match &settings.mail.smtp_url {
        Some(_) => "SMTP (IRO_ADVICE_SMTP_URL)".to_owned(),
        None => format!(
            ".eml files in {}",
            settings.server.data_dir.join("outbox").display()
        ),
    };
    let witnesses = settings.witnesses.list();
    println!("profile      {}", settings.profile);
    println!("listen       https://{}", settings.server.listen);
    println!("public URL   {}", settings.server.public_url);
    println!("certificate  {certificate}");
    println!("database     {database}");
    println!("keys         {}", settings.accounts.keys_dir.display());
    println!("mail         {mail}");
    println!("log origin   {}", settings.request_log.origin);
    println!(
        "witnesses    {} configured, {} must cosign",
        witnesses.len(),
        settings.witnesses.required()
    );
    // A misspelt variable would otherwise be ignored without a word, and its setting left
    // at its default.
    let known = |name: &str| {
        iro_advice_server::config::FILE_SELECTORS
            .iter()
            .any(|(v, _)| *v == name)
            || iro_advice_server::config::DECLARED
                .iter()
                .any(|d| d.env == Some(name))
            || iro_advice_client::ENVIRONMENT.contains(&name)
    };
    let unknown: Vec<String> = std::env::vars_os()
        .filter_map(|(k, _)| k.into_string().ok())
        .filter(|k| k.starts_with("IRO_ADVICE_") && !known(k))
        .collect();
    if !unknown.is_empty() {
        return Err(format!("{} is not a setting", unknown.join(", ")).into());
    }
    println!("the settings are valid");
    Ok(())
}

fn web_verify(request: iro_advice_client::web_verify::Request) -> CliResult<Vec<String>> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    Ok(runtime.block_on(iro_advice_client::web_verify::verify(request))?)
}

fn fail(e: impl std::fmt::Display) -> ExitCode {
    eprintln!("iro-advice: {e}");
    ExitCode::FAILURE
}

type CliResult<T = ()> = Result<T, Box<dyn std::error::Error>>;

fn serve(settings: Settings) -> CliResult {
    actix_web::rt::System::new().block_on(async move {
        let listen = settings.server.listen;
        let public_url = settings.server.public_url.clone();
        let profile = settings.profile.clone();
        let app = Application::build(settings).await?;
        tracing::info!(%listen, %public_url, %profile, "serving HTTPS");
        app.run_until_stopped().await?;
        tracing::info!("stopped");
        Ok(())
    })
}

#[cfg(feature = "demo")]
fn demo_seed(
    settings: &Settings,
    iros: usize,
    queries: usize,
    (from, until): (
        Option<iro_advice_model::period::Month>,
        Option<iro_advice_model::period::Month>,
    ),
    seed: u64,
) -> CliResult {
    if !settings.server.allow_demo_data {
        return Err(iro_advice_server::demo::DemoError::Refused(settings.profile.clone()).into());
    }
    let from = from.unwrap_or_else(|| {
        let today = iro_advice_server::db::now().date();
        iro_advice_model::period::Month::of(today - chrono::Duration::days(730))
    });
    let db = server::prepare_database(settings)?;
    let log = server::log_keys(
        settings,
        &Keys::load_or_create(&settings.accounts.keys_dir)?,
    )?;
    let options = iro_advice_server::demo::SeedOptions {
        iros,
        queries,
        from,
        until,
        seed,
        reminder_routine_minutes: settings.queries.reminder_routine_minutes,
        reminder_urgent_minutes: settings.queries.reminder_urgent_minutes,
    };
    let started = std::time::Instant::now();
    let s = iro_advice_server::demo::seed(&mut *db.get()?, &log, &options)?;
    println!(
        "seeded from {from}: {} IROs, {} advisers, {} queries, {} declines, {} pressure reports; \
         the log now holds {} leaves ({:.1} s). Every account is synthetic (@{}).",
        s.iros,
        s.advisers,
        s.queries,
        s.declines,
        s.pressure_reports,
        s.log_leaves,
        started.elapsed().as_secs_f64(),
        iro_advice_server::demo::DEMO_DOMAIN
    );
    Ok(())
}

fn stats_release(
    settings: &Settings,
    period: Option<iro_advice_model::period::Period>,
) -> CliResult {
    use iro_advice_server::statistics::store::{self, ReleaseSettings};
    let db = server::prepare_database(settings)?;
    let context = server::write_context(settings)?;
    let release = ReleaseSettings::from(settings);
    let now = iro_advice_server::db::now();
    let conn = &mut *db.get()?;
    let built = match period {
        None => store::build_missing(
            conn,
            &context,
            &release,
            now,
            iro_advice_server::log::Actor::Operator,
        )?,
        Some(p) => {
            let mut built = Vec::new();
            // Those it builds on first, then the period itself.
            for earlier in iro_advice_server::statistics::release::linked_periods(&p) {
                built.extend(store::build(
                    conn,
                    &context,
                    &release,
                    &earlier,
                    now,
                    iro_advice_server::log::Actor::Operator,
                )?);
            }
            built.extend(store::build(
                conn,
                &context,
                &release,
                &p,
                now,
                iro_advice_server::log::Actor::Operator,
            )?);
            built
        }
    };
    for r in &built {
        println!(
            "released {}: {} numbers withheld, narrowest width {}, sha256 {}, leaf {}",
            r.period,
            r.suppressed,
            r.narrowest_width
                .map_or("unbounded".to_owned(), |w| w.to_string()),
            r.sha256,
            r.leaf_index
        );
    }
    println!("{} release(s) built", built.len());
    Ok(())
}

fn stats_audit(settings: &Settings, show: usize) -> CliResult {
    use iro_advice_server::statistics::store::{self, ReleaseSettings};
    let db = server::prepare_database(settings)?;
    let release = ReleaseSettings::from(settings);
    let mut audited = store::audit(&mut *db.get()?, &release)?;
    let width = |a: &iro_advice_server::statistics::release::Audited| match &a.width {
        Ok(w) => w.unwrap_or(i64::MAX),
        Err(_) => -1,
    };
    audited.sort_by_key(width);
    for a in audited.iter().take(show) {
        match &a.width {
            Ok(Some(w)) => println!("{}: keeps {} values or more", a.what, w + 1),
            Ok(None) => println!("{}: unbounded", a.what),
            Err(e) => println!("{}: not proven ({e})", a.what),
        }
    }
    let bad = audited
        .iter()
        .filter(|a| width(a) < iro_advice_server::statistics::release::MIN_WIDTH)
        .count();
    if bad > 0 {
        return Err(
            format!("audit FAILED: {bad} withheld number(s) keep fewer than 4 values").into(),
        );
    }
    println!(
        "audit passed: {} withheld numbers, each keeps at least 4 possible values",
        audited.len()
    );
    Ok(())
}

fn migrate(settings: &Settings) -> CliResult {
    let db = server::prepare_database(settings)?;
    println!("database ({}) is up to date", db.backend().name());
    Ok(())
}

fn invite(
    settings: &Settings,
    role: Role,
    email: &str,
    authority: Option<&str>,
    adviser_kind: Option<AdviserKind>,
) -> CliResult {
    let email = Email::parse(email).map_err(|e| format!("--email {e}"))?;
    let authority = authority
        .map(AuthorityCode::parse)
        .transpose()
        .map_err(|e| format!("--authority: {e}"))?;
    let invitee = Invitee::new(role, email, authority, adviser_kind)?;
    let db = server::prepare_database(settings)?;
    let context = server::write_context(settings)?;
    let created = invitations::create_from_cli(
        &mut *db.get()?,
        &context,
        &invitee,
        settings.accounts.invitation_days,
    )?;
    println!(
        "an invitation to a new {role} account, valid until {} UTC",
        created.expires_at.format("%Y-%m-%d %H:%M")
    );
    println!(
        "open {}/open#{} in a browser and type the code {}, or redeem both with POST /api/v1/accounts:",
        settings.server.public_url.trim_end_matches('/'),
        created.token,
        created.code.as_str()
    );
    // The operator's console is its own channel: both halves together, on the last line.
    println!("{}", created.whole());
    Ok(())
}

fn reset_second_factor(settings: &Settings, email: &str) -> CliResult {
    let email = Email::parse(email).map_err(|e| format!("--email {e}"))?;
    let db = server::prepare_database(settings)?;
    let context = server::write_context(settings)?;
    let id = iro_advice_server::accounts::second_factor::reset_by_operator(
        &mut *db.get()?,
        &context,
        &email,
    )
    .map_err(|e| match e {
        iro_advice_server::accounts::AccountError::NotFound => {
            format!("no account has the email {}", email.as_str())
        }
        other => other.to_string(),
    })?;
    println!(
        "second factor reset for account {id}: every session ended, the owner mailed; they \
         sign in with their password and enrol again"
    );
    Ok(())
}

fn log_verifier(
    settings: &Settings,
) -> Result<iro_advice_server::log::note::Verifier, Box<dyn std::error::Error>> {
    let log = server::log_keys(
        settings,
        &Keys::load_or_create(&settings.accounts.keys_dir)?,
    )?;
    Ok(iro_advice_server::log::note::Verifier::parse(
        &log.signer.verifier_key(),
    )?)
}

fn backup(settings: &Settings, out: &std::path::Path) -> CliResult {
    let copied = iro_advice_server::backup::backup(settings, &log_verifier(settings)?, out)?;
    println!(
        "backed up to {}: {} bytes, {} log leaves and {} signed checkpoints, verified. \
         The keys are not in it: back up {} apart.",
        out.display(),
        copied.bytes,
        copied.leaves,
        copied.checkpoints,
        settings.accounts.keys_dir.display()
    );
    Ok(())
}

fn restore(settings: &Settings, from: &std::path::Path, accept_rollback: bool) -> CliResult {
    let copied = iro_advice_server::backup::restore(
        settings,
        &log_verifier(settings)?,
        from,
        accept_rollback,
    )?;
    println!(
        "restored {}: {} log leaves and {} signed checkpoints, verified",
        from.display(),
        copied.leaves,
        copied.checkpoints
    );
    Ok(())
}

fn verify_log(settings: &Settings, external: &[std::path::PathBuf]) -> CliResult {
    let db = server::prepare_database(settings)?;
    let log = server::log_keys(
        settings,
        &Keys::load_or_create(&settings.accounts.keys_dir)?,
    )?;
    let verifier = iro_advice_server::log::note::Verifier::parse(&log.signer.verifier_key())?;
    let report = match iro_advice_server::log::verify::verify(&mut *db.get()?, &verifier) {
        Ok(report) => report,
        Err(e) => {
            return match e.index() {
                Some(index) => Err(format!("log verification FAILED at index {index}: {e}").into()),
                None => Err(e.into()),
            }
        }
    };
    for path in external {
        let note = std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
        let size =
            iro_advice_server::log::verify::check_external(&mut *db.get()?, &verifier, &note)
                .map_err(|e| format!("log verification FAILED against {}: {e}", path.display()))?;
        println!(
            "{}: the stored log extends it (size {size})",
            path.display()
        );
    }
    let releases = iro_advice_server::statistics::store::check_against_log(&mut *db.get()?)
        .map_err(|e| format!("log verification FAILED: {e}"))?;
    println!(
        "log verified: {} leaves, {} signed checkpoints, all consistent; {releases} statistics \
         release(s) match their leaves",
        report.leaves, report.checkpoints
    );
    Ok(())
}

fn erase(settings: &Settings, query: Option<&str>, pressure_report: Option<&str>) -> CliResult {
    let db = server::prepare_database(settings)?;
    let log = server::log_keys(
        settings,
        &Keys::load_or_create(&settings.accounts.keys_dir)?,
    )?;
    let mut conn = db.get()?;
    let (what, erased) = match (query, pressure_report) {
        (Some(id), _) => (
            format!("query {id}"),
            iro_advice_server::queries::erasure::erase_query(
                &mut conn,
                &log,
                id,
                iro_advice_server::log::Actor::Operator,
            )?,
        ),
        (None, Some(id)) => (
            format!("pressure report {id}"),
            iro_advice_server::queries::erasure::erase_pressure_report(
                &mut conn,
                &log,
                id,
                iro_advice_server::log::Actor::Operator,
            )?,
        ),
        (None, None) => return Err("name --query or --pressure-report".into()),
    };
    if erased {
        println!("erased the content of {what}; its log leaves remain");
    } else {
        println!("{what} had no content left to erase");
    }
    Ok(())
}

fn witness(command: WitnessCommand) -> CliResult {
    use iro_advice_witness as witness;
    match command {
        WitnessCommand::Init { data_dir, name } => {
            let vkey = witness::init(&data_dir, &name)?;
            println!("witness key and state written to {}", data_dir.display());
            println!("{vkey}");
            Ok(())
        }
        WitnessCommand::Serve {
            data_dir,
            listen,
            logs,
            tls_cert,
            tls_key,
        } => {
            let _ = tracing_subscriber::fmt()
                .with_env_filter(
                    tracing_subscriber::EnvFilter::try_from_default_env()
                        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info")),
                )
                .with_writer(std::io::stderr)
                .try_init();
            let witness = witness::Witness::open(&data_dir, &logs)?;
            let tls = match (tls_cert, tls_key) {
                (Some(cert), Some(key)) => Some(iro_advice_server::tls::server_config_from(
                    &iro_advice_server::tls::TlsFiles { cert, key },
                    ("--tls-cert", "--tls-key"),
                )?),
                _ => None,
            };
            let listener = std::net::TcpListener::bind(listen)
                .map_err(|e| format!("--listen {listen}: {e}"))?;
            let scheme = if tls.is_some() { "https" } else { "http" };
            tracing::info!(key = %witness.verifier_key(), %listen, scheme, "witness serving");
            actix_web::rt::System::new()
                .block_on(witness::http::serve(witness, listener, tls))
                .map_err(|e| format!("witness: {e}"))?;
            Ok(())
        }
        WitnessCommand::Evidence { data_dir } => {
            let store = witness::state::Store::open(&data_dir)?;
            let evidence = store.evidence()?;
            if evidence.is_empty() {
                println!("no evidence: every checkpoint sent was consistent with those cosigned");
            }
            for e in evidence {
                println!(
                    "== {} at {} (unix): {}\n-- refused, as the log signed it:\n{}-- cosigned before:\n{}",
                    e.origin, e.received_at, e.reason, e.refused, e.cosigned
                );
            }
            Ok(())
        }
    }
}
