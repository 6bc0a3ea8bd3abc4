//! `iro-advice web verify`: fetches the manifest the service says it serves, checks that the
//! log published it (the leaf's inclusion in a checkpoint signed by the log and cosigned by
//! the witnesses), then fetches every file and checks it against the manifest. An operator
//! who serves other code than it logged is caught here; one who logs other code is caught
//! by whoever compares the logged manifest with a build of the repository.

use sha2::{Digest, Sha256};

use iro_advice_api::paths;
use iro_advice_api::web::Manifest;
use iro_advice_api::{LogTrust, WebAppProof};
use iro_advice_model::leaf::{web_app_pseudonym, Kind, LeafSummary};
use iro_advice_tlog::trust::Trust;

pub struct Request {
    pub server: String,
    pub ca: Option<std::path::PathBuf>,
    /// Pinned keys; None: what the server advertises (said so in the output).
    pub log_key: Option<String>,
    pub witnesses: Vec<String>,
    pub quorum: Option<usize>,
    /// The manifest of the application the served one must be: the one built into the
    /// running binary, or one given with `--manifest` (from a build of another version).
    pub expected: Expected,
}

/// What the served application is compared with.
pub enum Expected {
    BuiltIn(Manifest),
    /// The JSON of a manifest, as `iro-advice web manifest` or the service prints it.
    File {
        path: String,
        json: String,
    },
}

#[derive(Debug, thiserror::Error)]
pub enum WebVerifyError {
    #[error("--ca {path}: {reason}")]
    Ca { path: String, reason: String },
    #[error("{url}: {reason}")]
    Fetch { url: String, reason: String },
    #[error("FAILED: the manifest's proof does not verify: {0}")]
    Proof(String),
    #[error(
        "FAILED: {path} as served has SHA-256 {served}, but the manifest in the log says {logged}. \
         This is not the code that was published; keep this output and tell NAIRO."
    )]
    Mismatch {
        path: String,
        served: String,
        logged: String,
    },
    #[error(
        "FAILED: the service serves (and logged) another application than {expected}: {differs}. \
         The log proves what was served, not that it is the published code: keep this output \
         and tell NAIRO. If you expected another version, check against that build's manifest \
         with --manifest FILE."
    )]
    OtherBuild { expected: String, differs: String },
    #[error("--manifest {path}: {reason}")]
    ManifestFile { path: String, reason: String },
}

#[derive(serde::Deserialize)]
struct ManifestJson {
    version: String,
    assets: Vec<Entry>,
}

#[derive(serde::Deserialize)]
struct Entry {
    path: String,
    sha256: String,
}

/// What a browser sends when it loads the page and its files: the service cannot tell this
/// check from a person's browser and serve it something else.
const BROWSER_HEADERS: [(&str, &str); 4] = [
    (
        "User-Agent",
        "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/156.0.0.0 Safari/537.36",
    ),
    (
        "Accept",
        "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8",
    ),
    ("Accept-Language", "en-GB,en;q=0.9"),
    ("Sec-Fetch-Mode", "navigate"),
];

async fn fetch(http: &reqwest::Client, url: &str) -> Result<Vec<u8>, WebVerifyError> {
    let failed = |reason: String| WebVerifyError::Fetch {
        url: url.to_owned(),
        reason,
    };
    let mut req = http.get(url).header("Cache-Control", "no-cache");
    for (name, value) in BROWSER_HEADERS {
        req = req.header(name, value);
    }
    let res = req.send().await.map_err(|e| failed(e.to_string()))?;
    if !res.status().is_success() {
        return Err(failed(format!("answered {}", res.status())));
    }
    Ok(res
        .bytes()
        .await
        .map_err(|e| failed(e.to_string()))?
        .to_vec())
}

/// The files in which `served` differs from `expected`, by path.
fn differences(served: &ManifestJson, expected: &ManifestJson) -> Vec<String> {
    let mut paths: Vec<&str> = served
        .assets
        .iter()
        .chain(&expected.assets)
        .map(|e| e.path.as_str())
        .collect();
    paths.sort_unstable();
    paths.dedup();
    let digest = |m: &ManifestJson, path: &str| {
        m.assets
            .iter()
            .find(|e| e.path == path)
            .map(|e| e.sha256.clone())
    };
    paths
        .into_iter()
        .filter_map(|path| {
            let (s, e) = (digest(served, path), digest(expected, path));
            (s != e).then(|| match (s, e) {
                (Some(s), Some(e)) => format!("{path} is {s}, expected {e}"),
                (Some(_), None) => format!("{path} is served but not expected"),
                _ => format!("{path} is expected but not served"),
            })
        })
        .collect()
}

/// Runs the check; Ok with the lines to print.
pub async fn verify(request: Request) -> Result<Vec<String>, WebVerifyError> {
    let ca = match &request.ca {
        Some(path) => Some(std::fs::read(path).map_err(|e| WebVerifyError::Ca {
            path: path.display().to_string(),
            reason: e.to_string(),
        })?),
        None => None,
    };
    let http = iro_advice_tlog::https::client(ca.as_deref(), std::time::Duration::from_secs(10))
        .map_err(|reason| WebVerifyError::Ca {
            path: "".into(),
            reason,
        })?;
    let server = request.server.trim_end_matches('/');
    let mut out = Vec::new();
    let (log_key, witnesses, quorum) =
        match request.log_key {
            Some(key) => {
                let quorum = request.quorum.unwrap_or(request.witnesses.len());
                (key, request.witnesses, quorum)
            }
            None => {
                let url = format!("{server}{}", paths::LOG_TRUST);
                let advertised: LogTrust = serde_json::from_slice(&fetch(&http, &url).await?)
                    .map_err(|e| WebVerifyError::Fetch {
                        url,
                        reason: e.to_string(),
                    })?;
                out.push(format!(
                "trusting the log key and {} witness key(s) the server advertises (quorum {}); \
                 give --log-key and --witness to check against keys you hold",
                advertised.witnesses.len(),
                advertised.quorum
            ));
                (
                    advertised.log_key,
                    advertised.witnesses,
                    request.quorum.unwrap_or(advertised.quorum),
                )
            }
        };
    let url = format!("{server}/.well-known/iro-advice/web-manifest.json");
    let proof: WebAppProof =
        serde_json::from_slice(&fetch(&http, &url).await?).map_err(|e| WebVerifyError::Fetch {
            url,
            reason: e.to_string(),
        })?;
    let bad = |why: String| WebVerifyError::Proof(why);
    let checkpoint = proof
        .receipt
        .verify(&log_key)
        .map_err(|e| bad(e.to_string()))?;
    let trust = Trust::new(&log_key, &witnesses, quorum).map_err(|e| bad(e.to_string()))?;
    let (_, cosigned) = trust
        .open(proof.receipt.checkpoint.as_deref().unwrap_or_default())
        .map_err(|e| bad(e.to_string()))?;
    let leaf = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD
            .decode(&proof.receipt.leaf_data)
            .map_err(|e| bad(e.to_string()))?
    };
    let summary = LeafSummary::decode(&leaf).ok_or_else(|| bad("an unreadable leaf".into()))?;
    if summary.kind != Kind::WebAppPublished || summary.subject != web_app_pseudonym() {
        return Err(bad(format!("the leaf is a {} event", summary.kind)));
    }
    let digest: [u8; 32] = Sha256::digest(proof.manifest.as_bytes()).into();
    if summary.extension != digest {
        return Err(bad("the leaf names another manifest".into()));
    }
    let manifest: ManifestJson =
        serde_json::from_str(&proof.manifest).map_err(|e| bad(format!("the manifest: {e}")))?;
    out.push(format!(
        "manifest of version {} published at leaf {} on {} UTC, in a checkpoint of {} leaves \
         cosigned by {} witness(es)",
        manifest.version,
        proof.receipt.leaf_index.unwrap_or_default(),
        summary.at.format("%Y-%m-%d %H:%M:%S"),
        checkpoint.size,
        cosigned.len()
    ));
    for entry in &manifest.assets {
        let bytes = fetch(&http, &format!("{server}{}", entry.path)).await?;
        let served = iro_advice_model::hex(&Sha256::digest(&bytes));
        if served != entry.sha256 {
            return Err(WebVerifyError::Mismatch {
                path: entry.path.clone(),
                served,
                logged: entry.sha256.clone(),
            });
        }
        out.push(format!("ok  {}  {}", entry.sha256, entry.path));
    }
    let (expected_name, expected_json) = match &request.expected {
        Expected::BuiltIn(m) => (
            "the one built into this iro-advice binary".to_owned(),
            m.to_json(),
        ),
        Expected::File { path, json } => (format!("the manifest in {path}"), json.clone()),
    };
    let expected: ManifestJson =
        serde_json::from_str(&expected_json).map_err(|e| WebVerifyError::ManifestFile {
            path: expected_name.clone(),
            reason: e.to_string(),
        })?;
    let differs = differences(&manifest, &expected);
    if !differs.is_empty() {
        return Err(WebVerifyError::OtherBuild {
            expected: expected_name,
            differs: differs.join("; "),
        });
    }
    out.push(format!("the served application is {expected_name}"));
    out.push(format!(
        "web application verified: {} files match the manifest in the log",
        manifest.assets.len()
    ));
    Ok(out)
}
