//! The web application as the service serves it: the committed bundle, byte for byte, under
//! a policy that lets the page load and reach nothing but this origin. What the page does is
//! tested in a browser (`web/tests/e2e.mjs`).

use iro_advice::web::{Manifest, ASSETS};

use crate::both_databases;
use crate::helpers::TestApp;

both_databases!(
    the_application_is_served_under_its_policy,
    each_asset_is_the_embedded_file_and_unchanged_files_cost_a_304,
    api_responses_keep_the_policy_that_allows_nothing
);

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
    let manifest = Manifest::served();
    for entry in &manifest.assets {
        let res = app.client.get(app.url(&entry.path)).send().await.unwrap();
        assert_eq!(res.status(), 200, "{}", entry.path);
        let etag = res.headers()["etag"].to_str().unwrap().to_owned();
        assert_eq!(etag, format!("\"{}\"", entry.sha256));
        let body = res.bytes().await.unwrap();
        let digest = {
            use sha2::{Digest, Sha256};
            iro_advice::keys::hex(&Sha256::digest(&body))
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
