//! What the benchmarks share: settings for a scratch data directory, and a scratch
//! PostgreSQL database created for one run and dropped after it.

use std::time::Duration;

use diesel::{Connection, PgConnection, RunQueryDsl};
use iro_advice_server::config::Settings;

pub fn settings(data: &std::path::Path, url: &str) -> Settings {
    let vars = [
        ("IRO_ADVICE_DATA_DIR", data.display().to_string()),
        ("DATABASE_URL", url.to_owned()),
    ];
    Settings::load(|k| vars.iter().find(|(n, _)| *n == k).map(|(_, v)| v.clone())).unwrap()
}

/// Runs `f` with the URL of a new database on `BENCH_DATABASE_URL` (default
/// postgres://postgres@127.0.0.1:5432/postgres), dropped afterwards; says so and skips
/// when no server answers.
pub fn with_scratch_postgres(prefix: &str, f: impl FnOnce(&str)) {
    let admin = std::env::var("BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".into());
    let Ok(mut conn) = PgConnection::establish(&admin) else {
        println!("[postgres] skipped: no server at BENCH_DATABASE_URL");
        return;
    };
    let name = format!("{prefix}_{}", std::process::id());
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .unwrap();
    f(&format!("{}/{name}", admin.rsplit_once('/').unwrap().0));
    std::thread::sleep(Duration::from_millis(200));
    diesel::sql_query(format!("DROP DATABASE {name} WITH (FORCE)"))
        .execute(&mut conn)
        .unwrap();
}

/// Creates a database on the server of `url` (a database URL to connect with).
pub fn create_database(url: &str, name: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(format!("CREATE DATABASE {name}"))
        .execute(&mut conn)
        .unwrap();
}

/// Drops a database made by [`create_database`].
pub fn drop_database(url: &str, name: &str) {
    let mut conn = PgConnection::establish(url).unwrap();
    diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
        .execute(&mut conn)
        .unwrap();
}

/// An HTTPS client through rustls with ring that trusts exactly the given certificate,
/// keeping up to `pool` idle connections.
pub fn https_client(cert: &std::path::Path, pool: usize) -> reqwest::Client {
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    for c in rustls::pki_types::CertificateDer::pem_file_iter(cert).unwrap() {
        roots.add(c.unwrap()).unwrap();
    }
    let tls = rustls::ClientConfig::builder_with_provider(iro_advice_tlog::https::provider())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .pool_max_idle_per_host(pool)
        .http1_only()
        .build()
        .unwrap()
}

/// A field of `/proc/<pid>/status` in KiB (`VmRSS:`, `VmHWM:`); 0 when unreadable.
pub fn status_kib(pid: u32, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// The `p` quantile of sorted durations, in ms (NaN when there are none).
pub fn percentile(sorted: &[Duration], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() as f64 * p) as usize).min(sorted.len() - 1)].as_secs_f64() * 1000.0
}

/// Raises this process's open-file limit to its hard limit: a thousand connections need
/// their sockets, on both ends, in one machine.
pub fn raise_open_files() {
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: getrlimit and setrlimit only read and write the struct given.
    unsafe {
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) == 0 {
            limit.rlim_cur = limit.rlim_max;
            libc::setrlimit(libc::RLIMIT_NOFILE, &limit);
        }
    }
}
