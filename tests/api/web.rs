//! The web application as the service serves it: the committed bundle, byte for byte, under
//! a policy that lets the page load and reach nothing but this origin. What the page does is
//! tested in a browser (`web/tests/e2e.mjs`).

use iro_advice_api::WebAppProof;
use iro_advice_server::log::{web_app_pseudonym, Kind, LeafSummary};
use iro_advice_server::web::ASSETS;

use iro_advice_testkit::{both_binary_databases, both_databases};
use iro_advice_testkit::{json, TestApp};

both_databases!(
    the_application_is_served_under_its_policy,
    each_asset_is_the_embedded_file_and_unchanged_files_cost_a_304,
    api_responses_keep_the_policy_that_allows_nothing,
    the_manifest_is_a_leaf_proven_in_the_served_checkpoint,
);

both_binary_databases!(web_verify_catches_a_served_file_that_differs_from_the_logged_manifest);

async fn the_application_is_served_under_its_policy(app: TestApp) {
    for path in ["/", "/open"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{path}");
        let h = res.headers().clone();
        let header = |name: &str| h.get(name).unwrap().to_str().unwrap().to_owned();
        assert!(header("content-type").starts_with("text/html"));
        let csp = header("content-security-policy");
        for directive in [
            "default-src 'none'",
            "script-src 'self'",
            "style-src 'self'",
            "connect-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            "frame-ancestors 'none'",
            "require-trusted-types-for 'script'",
            "trusted-types 'none'",
        ] {
            assert!(
                csp.contains(directive),
                "{path}: {directive} missing from {csp}"
            );
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(header("cross-origin-opener-policy"), "same-origin");
        let permissions = header("permissions-policy");
        for denied in ["camera=()", "microphone=()", "geolocation=()", "payment=()"] {
            assert!(permissions.contains(denied), "{denied}");
        }
        assert!(header("strict-transport-security").contains("max-age="));
        let body = res.bytes().await.unwrap();
        assert_eq!(&body[..], ASSETS[0].bytes);
        let html = String::from_utf8(body.to_vec()).unwrap();
        // Nothing inline, nothing from elsewhere: every script and style is a file of ours.
        assert!(!html.contains("<style"), "inline style");
        assert!(html.contains(r#"<script type="module" src="/assets/app.js"></script>"#));
        assert_eq!(html.matches("<script").count(), 1);
        assert!(!html.contains("http://") && !html.contains("https://"));
    }
}

async fn each_asset_is_the_embedded_file_and_unchanged_files_cost_a_304(app: TestApp) {
    let manifest = iro_advice_server::web::assets::embedded_manifest();
    for entry in &manifest.assets {
        let res = app.client.get(app.url(&entry.path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", entry.path);
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, format!("\"{}\"", entry.sha256));
        let body = res.bytes().await.unwrap();
        let digest = {
            use sha2::{Digest, Sha256};
            iro_advice_server::keys::hex(&Sha256::digest(&body))
        };
        assert_eq!(
            digest, entry.sha256,
            "{} is not the embedded file",
            entry.path
        );
        let again = app
            .client
            .get(app.url(&entry.path))
            .header("If-None-Match", &etag)
            .send()
            .await
            .unwrap();
        assert_eq!(again.status(), 304, "{}", entry.path);
        assert!(again.bytes().await.unwrap().is_empty());
    }
    let js = app
        .client
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap();
    assert!(js.headers()["content-type"]
        .to_str()
        .unwrap()
        .starts_with("text/javascript"));
    // A name that is not in the bundle, or one that climbs out of it, is a plain 404.
    for path in ["/assets/other.js", "/assets/..%2FCargo.toml", "/assets/"] {
        let res = app.client.get(app.url(path)).send().await.unwrap();
        assert_eq!(res.status(), 404, "{path}");
        assert_eq!(
            res.headers()["content-type"].to_str().unwrap(),
            "application/problem+json",
            "{path}"
        );
    }
}

async fn api_responses_keep_the_policy_that_allows_nothing(app: TestApp) {
    let res = app.client.get(app.url("/healthz")).send().await.unwrap();
    assert_eq!(
        res.headers()["content-security-policy"],
        "default-src 'none'; frame-ancestors 'none'"
    );
    assert_eq!(res.headers()["cache-control"], "no-store");
    let unknown = app.client.get(app.url("/inbox")).send().await.unwrap();
    assert_eq!(unknown.status(), 404);
}

async fn the_manifest_is_a_leaf_proven_in_the_served_checkpoint(app: TestApp) {
    use base64::Engine;
    let proof: WebAppProof = serde_json::from_value(
        json(
            app.get("/.well-known/iro-advice/web-manifest.json").await,
            200,
        )
        .await,
    )
    .unwrap();
    // The manifest is the embedded bundle's, exactly as hashed into the leaf.
    assert_eq!(
        proof.manifest,
        iro_advice_server::web::assets::embedded_manifest().to_json()
    );
    proof.receipt.verify(&app.log_key().await).unwrap();
    let leaf = base64::engine::general_purpose::STANDARD
        .decode(&proof.receipt.leaf_data)
        .unwrap();
    let summary = LeafSummary::decode(&leaf).unwrap();
    assert_eq!(summary.kind, Kind::WebAppPublished);
    assert_eq!(summary.subject, web_app_pseudonym());
    let digest = {
        use sha2::{Digest, Sha256};
        Sha256::digest(proof.manifest.as_bytes()).to_vec()
    };
    assert_eq!(summary.extension, digest);
    assert_eq!(
        app.count("log_leaves"),
        1,
        "one leaf at start: the manifest"
    );
}

/// The operator's attack: the service logs one build and serves another. `web verify`
/// passes on what was logged, and fails, naming the file, once one byte on disk changes.
async fn web_verify_catches_a_served_file_that_differs_from_the_logged_manifest(mut app: TestApp) {
    let ca = app.ca_path();
    let verify = |app: &TestApp| {
        std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
            .args(["web", "verify", "--server", &app.base, "--ca"])
            .arg(&ca)
            .output()
            .unwrap()
    };
    let out = verify(&app);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("web application verified: 3 files"),
        "{stdout}"
    );
    assert!(
        stdout.contains("built into this iro-advice binary"),
        "{stdout}"
    );
    let leaves = app.count("log_leaves");

    // The same build again: no second leaf.
    app.stop();
    app.start(&[]).await;
    assert_eq!(app.count("log_leaves"), leaves);

    // A copy of the bundle served from disk: its own manifest is logged at start.
    let copy = tempfile::tempdir().unwrap();
    for asset in ASSETS {
        std::fs::write(copy.path().join(asset.file_name()), asset.bytes).unwrap();
    }
    app.stop();
    app.start(&[("IRO_ADVICE_WEB_DIR", copy.path().to_str().unwrap())])
        .await;
    assert!(verify(&app).status.success());

    // One byte of the script changed on disk, after the manifest was logged.
    let script = copy.path().join("app.js");
    let mut bytes = std::fs::read(&script).unwrap();
    let last = bytes.len() - 2;
    bytes[last] ^= 0x20;
    std::fs::write(&script, &bytes).unwrap();
    let out = verify(&app);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "web verify passed a changed file");
    assert!(
        stderr.contains("FAILED: /assets/app.js as served has SHA-256"),
        "{stderr}"
    );
    // The page is served as changed: the check failed on what a browser would get.
    let served = app
        .client
        .get(app.url("/assets/app.js"))
        .send()
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap();
    assert_eq!(&served[..], bytes.as_slice());

    // The operator restarts on the changed file: the service logs its manifest, so every
    // served file matches the log. That is still not the published application: exit 1.
    app.stop();
    app.start(&[("IRO_ADVICE_WEB_DIR", copy.path().to_str().unwrap())])
        .await;
    let out = verify(&app);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("FAILED: the service serves (and logged) another application")
            && stderr.contains("/assets/app.js is "),
        "{stderr}"
    );
    // Checked against the manifest of that other build, it passes: the difference is the
    // whole verdict.
    let mut changed: Vec<(String, Vec<u8>)> = ASSETS
        .iter()
        .map(|a| (a.path.to_owned(), a.bytes.to_vec()))
        .collect();
    changed
        .iter_mut()
        .find(|(p, _)| p == "/assets/app.js")
        .unwrap()
        .1 = bytes.clone();
    let manifest =
        iro_advice_api::web::Manifest::of(changed.iter().map(|(p, b)| (p.as_str(), b.as_slice())));
    let manifest_file = copy.path().join("expected.json");
    std::fs::write(&manifest_file, manifest.to_json()).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["web", "verify", "--server", &app.base, "--ca"])
        .arg(&ca)
        .arg("--manifest")
        .arg(&manifest_file)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // The built-in manifest, as `web manifest` prints it, is what the first check used.
    let printed = std::process::Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args(["web", "manifest"])
        .output()
        .unwrap();
    let built_in = iro_advice_api::web::Manifest::of(ASSETS.iter().map(|a| (a.path, a.bytes)));
    assert_eq!(
        String::from_utf8_lossy(&printed.stdout).trim(),
        built_in.to_json()
    );
}
