//! End-to-end encrypted queries, over HTTPS, on both databases: the whole path by the
//! command-line client, refusals over the API, and a search of the stored bytes for any
//! plaintext.

use std::io::{Read, Write};
use std::path::Path;
use std::process::Command;

use iro_advice_model::accounts::{AdviserKind, Role};
use serde_json::{json, Value};

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{
    a_query, armored, assert_problem, decrypt, encrypt, json, signed_armored, upload, Client,
    TestApp,
};

both_databases!(
    an_iro_and_advisers_go_the_whole_way_with_the_client,
    only_the_iro_and_current_adviser_see_a_query,
    conflicted_and_unavailable_advisers_are_refused,
    non_age_content_is_refused_and_leaves_nothing,
    oversized_attachments_are_refused_and_leave_nothing,
    each_step_is_checked_against_the_state,
    after_a_decline_the_adviser_is_gone_and_routing_carries_every_message,
    an_unaccepted_urgent_query_is_reminded_once,
    an_upload_cut_off_half_way_leaves_nothing,
);

fn path_str(p: &Path) -> &str {
    p.to_str().unwrap()
}

/// Everything the database holds, as bytes a search can run over: the SQLite files, or
/// every PostgreSQL row as text.
fn stored_bytes(app: &TestApp) -> Vec<u8> {
    match &app.pg {
        None => {
            let db = app.database();
            let mut conn = db.get().unwrap();
            use diesel::connection::SimpleConnection;
            conn.batch_execute("PRAGMA wal_checkpoint(TRUNCATE)")
                .unwrap();
            let mut all = Vec::new();
            for suffix in ["", "-wal"] {
                let path = app.data_dir.path().join(format!("test.db{suffix}"));
                if let Ok(bytes) = std::fs::read(path) {
                    all.extend(bytes);
                }
            }
            all
        }
        Some(_) => {
            use diesel::prelude::*;
            #[derive(QueryableByName)]
            struct Dump {
                #[diesel(sql_type = diesel::sql_types::Nullable<diesel::sql_types::Text>)]
                t: Option<String>,
            }
            let db = app.database();
            let mut conn = db.get().unwrap();
            let tables: Vec<String> = diesel::sql_query(
                "SELECT tablename AS t FROM pg_tables WHERE schemaname = 'public'",
            )
            .load::<Dump>(&mut *conn)
            .unwrap()
            .into_iter()
            .filter_map(|d| d.t)
            .collect();
            assert!(tables.contains(&"messages".to_owned()));
            let mut all = Vec::new();
            for table in tables {
                let rows = diesel::sql_query(format!(
                    "SELECT string_agg(x::text, E'\\n') AS t FROM {table} x"
                ))
                .load::<Dump>(&mut *conn)
                .unwrap();
                for r in rows.into_iter().filter_map(|d| d.t) {
                    all.extend(r.into_bytes());
                }
            }
            all
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

async fn an_iro_and_advisers_go_the_whole_way_with_the_client(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let solicitor = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let peer = app
        .user(
            &admin,
            Role::Adviser,
            Some("E08000025"),
            Some(AdviserKind::Peer),
        )
        .await;
    let (iro_cli, sol_cli, peer_cli) = (
        Client::setup(&app, &iro),
        Client::setup(&app, &solicitor),
        Client::setup(&app, &peer),
    );

    let advisers = iro_cli.json(&["advisers"]);
    let ids: Vec<&str> = advisers
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["id"].as_str().unwrap())
        .collect();
    assert!(ids.contains(&solicitor.id.as_str()) && ids.contains(&peer.id.as_str()));

    // Ask, with an attachment larger than a stored chunk.
    let question = "PLAINTEXT-QUESTION-7f3a: the care plan has drifted for eight months.";
    let mut document = vec![0u8; 3 * 1024 * 1024 + 123];
    for (i, b) in document.iter_mut().enumerate() {
        *b = (i % 251) as u8;
    }
    document[1000..1024].copy_from_slice(b"PLAINTEXT-ATTACHMENT-c1d");
    let body = iro_cli.file("question.txt", question.as_bytes());
    let doc = iro_cli.file("report.bin", &document);
    let asked = iro_cli.ok(&[
        "ask",
        "--adviser",
        &solicitor.id,
        "--category",
        "care_plan_drift",
        "--stage",
        "formal",
        "--urgency",
        "routine",
        "--body",
        path_str(&body),
        "--attach",
        path_str(&doc),
    ]);
    let query_id = asked.trim_end().lines().last().unwrap().to_owned();
    assert_eq!(query_id.len(), 36, "{asked}");

    let inbox = sol_cli.json(&["inbox"]);
    assert_eq!(inbox[0]["id"], query_id.as_str());
    let advisers = iro_cli.json(&["advisers"]);
    let busy = advisers
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["id"] == solicitor.id.as_str())
        .unwrap();
    assert_eq!(busy["open_queries"], 1);
    assert_eq!(inbox[0]["status"], "submitted");
    let shown = sol_cli.ok(&["show", &query_id]);
    assert!(shown.contains(question), "{shown}");
    let detail = sol_cli.json(&["show", &query_id]);
    let attachment = detail["attachments"][0]["id"].as_str().unwrap().to_owned();
    let fetched = sol_cli.profile.path().join("fetched.bin");
    sol_cli.ok(&["fetch", &attachment, "--out", path_str(&fetched)]);
    assert_eq!(std::fs::read(&fetched).unwrap(), document);
    // Without --out the file keeps the name and type it was sent with, which travel inside
    // the encryption: the server holds neither.
    let folder = sol_cli.profile.path().join("downloads");
    std::fs::create_dir(&folder).unwrap();
    let saved = sol_cli.json(&["fetch", &attachment, "--dir", path_str(&folder)]);
    assert_eq!(saved["name"], "report.bin");
    assert_eq!(saved["type"], "application/octet-stream");
    assert_eq!(std::fs::read(folder.join("report.bin")).unwrap(), document);
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        1,
        "no partial file left"
    );
    let blob = app
        .get_auth(
            &format!("/api/v1/attachments/{attachment}"),
            &solicitor.access,
        )
        .await
        .bytes()
        .await
        .unwrap();
    assert!(!blob.windows(10).any(|w| w == b"report.bin"));
    let mut plain = Vec::new();
    age::Decryptor::new(&blob[..])
        .unwrap()
        .decrypt(std::iter::once(&sol_cli.identity() as &dyn age::Identity))
        .unwrap()
        .read_to_end(&mut plain)
        .unwrap();
    // The envelope, in the age crate's hands: the name, the type and the IRO's signature.
    let header = b"IRO-ADVICE-ATTACHMENT/1\n{\"name\":\"report.bin\",\"type\":\"application/octet-stream\",\"query\":";
    assert_eq!(&plain[..header.len()], header);
    let end = plain.iter().skip(24).position(|b| *b == b'\n').unwrap() + 25;
    let line = String::from_utf8_lossy(&plain[..end]);
    assert!(line.contains("\"signature\":"), "{line}");
    assert_eq!(&plain[end..], &document[..]);
    let again = sol_cli.attempt(&["fetch", &attachment, "--dir", path_str(&folder)]);
    let refused = again.expect_err("an existing file is not overwritten without --force");
    assert!(refused.contains("--force"), "{refused}");
    assert_eq!(
        std::fs::read_dir(&folder).unwrap().count(),
        1,
        "no partial file left"
    );

    sol_cli.ok(&["accept", &query_id]);
    let answer = "PLAINTEXT-REPLY-91be: escalate to the DCS and consider a Cafcass referral.";
    let reply = sol_cli.file("reply.txt", answer.as_bytes());
    sol_cli.ok(&["reply", &query_id, "--body", path_str(&reply)]);
    assert!(iro_cli.ok(&["show", &query_id]).contains(answer));
    let closed = iro_cli.json(&["close", &query_id, "--outcome", "advice_given"]);
    assert_eq!(closed["status"], "closed");

    // What the client encrypted opens with the age crate and the identity file directly.
    let raw = json(
        app.get_auth(&format!("/api/v1/queries/{query_id}"), &solicitor.access)
            .await,
        200,
    )
    .await;
    let first = raw["messages"][0]["body"].as_str().unwrap();
    for reader in [sol_cli.identity(), iro_cli.identity()] {
        // The IRO's signature travels inside the encryption, before the text.
        let plain = decrypt(first, &reader);
        assert!(
            plain.starts_with("IRO-ADVICE-SIGNED/1\n") && plain.ends_with(question),
            "{plain}"
        );
    }

    // A decline, then a route to the peer adviser, who reads everything.
    let second = "PLAINTEXT-SECOND-44d0: contact with siblings was stopped.";
    let body2 = iro_cli.file("second.txt", second.as_bytes());
    let doc2_bytes = b"PLAINTEXT-DOC2-0aa1 minutes of the review".repeat(1000);
    let doc2 = iro_cli.file("minutes.txt", &doc2_bytes);
    let asked = iro_cli.ok(&[
        "ask",
        "--adviser",
        &solicitor.id,
        "--category",
        "contact",
        "--stage",
        "informal",
        "--urgency",
        "urgent",
        "--body",
        path_str(&body2),
        "--attach",
        path_str(&doc2),
    ]);
    let second_id = asked.trim_end().lines().last().unwrap().to_owned();
    // A follow-up from the IRO, encrypted by the age crate rather than the client.
    let follow_up = "PLAINTEXT-FOLLOWUP-5c2e: the review is on Friday.";
    let recipients = [
        iro_cli.identity().to_public(),
        sol_cli.identity().to_public(),
    ];
    let res = app
        .post_json(
            &format!("/api/v1/queries/{second_id}/messages"),
            Some(&iro.access),
            &json!({"body": armored(follow_up, &recipients)}),
        )
        .await;
    assert_eq!(res.status(), 201);
    assert!(
        sol_cli.ok(&["show", &second_id]).contains(follow_up),
        "the client reads age-crate ciphertext"
    );

    // The solicitor reads the minutes before declining, so they are not replaced but copied.
    let detail = sol_cli.json(&["show", &second_id]);
    let read = detail["attachments"][0]["id"].as_str().unwrap().to_owned();
    let theirs = sol_cli.profile.path().join("minutes.txt");
    sol_cli.ok(&["fetch", &read, "--out", path_str(&theirs)]);
    let as_read = app
        .get_auth(&format!("/api/v1/attachments/{read}"), &iro.access)
        .await
        .bytes()
        .await
        .unwrap();
    sol_cli.ok(&["decline", &second_id, "--reason", "capacity"]);
    let refused = sol_cli.attempt(&["show", &second_id]).unwrap_err();
    assert!(refused.contains("404"), "{refused}");
    iro_cli.ok(&["route", &second_id, "--adviser", &peer.id]);
    let shown = peer_cli.ok(&["show", &second_id]);
    assert!(
        shown.contains(second) && shown.contains(follow_up),
        "{shown}"
    );
    let detail = peer_cli.json(&["show", &second_id]);
    let listed = detail["attachments"].as_array().unwrap();
    assert_eq!(
        listed.len(),
        2,
        "the original and the peer's copy: {detail}"
    );
    assert_eq!(listed[0]["id"], read.as_str());
    let unchanged = app
        .get_auth(&format!("/api/v1/attachments/{read}"), &iro.access)
        .await
        .bytes()
        .await
        .unwrap();
    assert_eq!(
        unchanged, as_read,
        "what the solicitor read was not replaced"
    );
    let attachment = listed[1]["id"].as_str().unwrap().to_owned();
    let fetched = peer_cli.profile.path().join("minutes.txt");
    peer_cli.ok(&["fetch", &attachment, "--out", path_str(&fetched)]);
    assert_eq!(std::fs::read(&fetched).unwrap(), doc2_bytes);
    // The solicitor's key no longer opens anything on it.
    let raw = json(
        app.get_auth(&format!("/api/v1/queries/{second_id}"), &peer.access)
            .await,
        200,
    )
    .await;
    let d = age::Decryptor::new(age::armor::ArmoredReader::new(
        raw["messages"][0]["body"].as_str().unwrap().as_bytes(),
    ))
    .unwrap();
    assert!(d
        .decrypt(std::iter::once(&sol_cli.identity() as &dyn age::Identity))
        .is_err());

    // Nowhere in the stored bytes is any of it in the clear.
    let stored = stored_bytes(&app);
    assert!(
        contains(&stored, b"age-encryption.org") || contains(&stored, b"BEGIN AGE ENCRYPTED FILE")
    );
    for secret in [question, answer, second, follow_up] {
        assert!(
            !contains(&stored, secret.as_bytes()),
            "{secret} is stored in the clear"
        );
        assert!(!contains(&stored, hex(secret.as_bytes()).as_bytes()));
    }
    for marker in [&b"PLAINTEXT-ATTACHMENT-c1d"[..], b"PLAINTEXT-DOC2-0aa1"] {
        assert!(!contains(&stored, marker));
        assert!(!contains(&stored, hex(marker).as_bytes()));
    }
    // The client's downloads left no partial files behind.
    assert!(!peer_cli.profile.path().join("minutes.txt.partial").exists());
}

async fn only_the_iro_and_current_adviser_see_a_query(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, id, recipients) = a_query(&app, &admin).await;
    let res = upload(&app, &iro.access, &id, encrypt(b"file", &recipients, false)).await;
    let attachment = json(res, 201).await["id"].as_str().unwrap().to_owned();
    let other_iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let other_adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;

    json(
        app.get_auth(&format!("/api/v1/queries/{id}"), &iro.access)
            .await,
        200,
    )
    .await;
    json(
        app.get_auth(&format!("/api/v1/queries/{id}"), &adviser.access)
            .await,
        200,
    )
    .await;
    for outsider in [&other_iro, &other_adviser] {
        let missing = assert_problem(
            app.get_auth(
                "/api/v1/queries/00000000-0000-0000-0000-000000000000",
                &outsider.access,
            )
            .await,
            404,
            "not-found",
        )
        .await;
        let hidden = assert_problem(
            app.get_auth(&format!("/api/v1/queries/{id}"), &outsider.access)
                .await,
            404,
            "not-found",
        )
        .await;
        assert_eq!(
            missing, hidden,
            "another's query answers exactly as a missing one"
        );
        assert_problem(
            app.get_auth(
                &format!("/api/v1/attachments/{attachment}"),
                &outsider.access,
            )
            .await,
            404,
            "not-found",
        )
        .await;
        let res = app
            .post_json(
                &format!("/api/v1/queries/{id}/messages"),
                Some(&outsider.access),
                &json!({"body": armored("x", &recipients)}),
            )
            .await;
        assert_problem(res, 404, "not-found").await;
        let listed = json(app.get_auth("/api/v1/queries", &outsider.access).await, 200).await;
        assert_eq!(listed, json!([]));
        let res = upload(
            &app,
            &outsider.access,
            &id,
            encrypt(b"x", &recipients, false),
        )
        .await;
        assert_problem(res, 404, "not-found").await;
    }
    let res = app
        .post_json(
            &format!("/api/v1/queries/{id}/accept"),
            Some(&other_adviser.access),
            &json!({}),
        )
        .await;
    assert_problem(res, 404, "not-found").await;
    let res = app
        .post_json(
            &format!("/api/v1/queries/{id}/close"),
            Some(&other_iro.access),
            &json!({"outcome": "withdrawn"}),
        )
        .await;
    assert_problem(res, 404, "not-found").await;
    // The owners see the attachment.
    let res = app
        .get_auth(
            &format!("/api/v1/attachments/{attachment}"),
            &adviser.access,
        )
        .await;
    assert_eq!(res.status(), 200);
}

async fn conflicted_and_unavailable_advisers_are_refused(app: TestApp) {
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let iro_key = app.register_key(&iro).await;
    let conflicted = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let same_employer = app
        .user(
            &admin,
            Role::Adviser,
            Some("E06000019"),
            Some(AdviserKind::Peer),
        )
        .await;
    let keyless = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let k1 = app.register_key(&conflicted).await;
    let k2 = app.register_key(&same_employer).await;
    app.put_json(
        "/api/v1/me/conflicts",
        &conflicted.access,
        &json!({"authority_codes": ["E06000019"]}),
    )
    .await;
    for (adviser, key) in [
        (&conflicted, Some(&k1)),
        (&same_employer, Some(&k2)),
        (&keyless, None),
    ] {
        let mut recipients = vec![iro_key.to_public()];
        if let Some(k) = key {
            recipients.push(k.to_public());
        }
        let res = app
            .post_json(
                "/api/v1/queries",
                Some(&iro.access),
                &json!({"adviser_id": adviser.id, "category": "other", "stage": "none",
                        "urgency": "routine", "body": armored("q", &recipients)}),
            )
            .await;
        assert_problem(res, 422, "adviser-not-eligible").await;
    }
    assert_eq!(app.count("queries"), 0);
    assert_eq!(app.count("messages"), 0);
}

async fn non_age_content_is_refused_and_leaves_nothing(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, id, recipients) = a_query(&app, &admin).await;
    let outbox = app.count("outbox");
    let valid = armored("fine", &recipients);
    let truncated = valid.lines().take(3).collect::<Vec<_>>().join("\n");
    for body in [
        json!("the child's placement broke down"),
        json!(truncated),
        json!("-----BEGIN AGE ENCRYPTED FILE-----\naGVsbG8=\n-----END AGE ENCRYPTED FILE-----\n"),
        json!(42),
    ] {
        let res = app
            .post_json(
                "/api/v1/queries",
                Some(&iro.access),
                &json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "routine", "body": body}),
            )
            .await;
        assert_eq!(res.status(), 400, "{body}");
        let res = app
            .post_json(
                &format!("/api/v1/queries/{id}/messages"),
                Some(&iro.access),
                &json!({"body": body}),
            )
            .await;
        assert_eq!(res.status(), 400, "{body}");
    }
    // A passphrase-encrypted body is age, but not for people.
    let scrypt = {
        let mut r = age::scrypt::Recipient::new("pass".to_owned().into());
        r.set_work_factor(2);
        let e =
            age::Encryptor::with_recipients(std::iter::once(&r as &dyn age::Recipient)).unwrap();
        let mut out = Vec::new();
        let mut w = e
            .wrap_output(
                age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor)
                    .unwrap(),
            )
            .unwrap();
        w.write_all(b"x").unwrap();
        w.finish().unwrap().finish().unwrap();
        String::from_utf8(out).unwrap()
    };
    let res = app
        .post_json(
            &format!("/api/v1/queries/{id}/messages"),
            Some(&iro.access),
            &json!({"body": scrypt}),
        )
        .await;
    assert_problem(res, 400, "age-not-x25519").await;

    // 100 bytes of plaintext: a 16-byte nonce and one 116-byte chunk. Cut 110 bytes off and
    // the chunk is shorter than its own tag: no real age file is that long.
    let file = encrypt(&[1u8; 100], &recipients, false);
    for bytes in [
        b"%PDF-1.7 a plain document".to_vec(),
        file[..file.len() - 110].to_vec(),
        file[..60].to_vec(),
        Vec::new(),
    ] {
        let res = upload(&app, &iro.access, &id, bytes).await;
        assert_problem(res, 400, "not-age").await;
    }
    assert_eq!(app.count("queries"), 1);
    assert_eq!(app.count("messages"), 1);
    assert_eq!(app.count("attachments"), 0);
    assert_eq!(app.count("attachment_chunks"), 0);
    assert_eq!(
        app.count("outbox"),
        outbox,
        "no notification for a refused act"
    );
}

async fn oversized_attachments_are_refused_and_leave_nothing(app: TestApp) {
    let app =
        iro_advice_testkit::spawn_app_with(app.backend, &[("IRO_ADVICE_MAX_ATTACHMENT_MB", "1")])
            .await
            .unwrap();
    let admin = app.admin().await;
    let (iro, _, id, recipients) = a_query(&app, &admin).await;
    let big = encrypt(&vec![9u8; 1536 * 1024], &recipients, false);
    let res = upload(&app, &iro.access, &id, big.clone()).await;
    assert_problem(res, 413, "payload-too-large").await;
    // Without a Content-Length the limit is enforced as the bytes arrive.
    let stream = futures_util::stream::iter(
        big.chunks(64 * 1024)
            .map(|c| Ok::<_, std::io::Error>(c.to_vec()))
            .collect::<Vec<_>>(),
    );
    let res = app
        .client
        .post(app.url(&format!("/api/v1/queries/{id}/attachments")))
        .bearer_auth(&iro.access)
        .body(reqwest::Body::wrap_stream(stream))
        .send()
        .await
        .unwrap();
    assert_problem(res, 413, "payload-too-large").await;
    assert_eq!(app.count("attachments"), 0);
    assert_eq!(app.count("attachment_chunks"), 0);
    // Just under the limit is fine.
    let fits = encrypt(&vec![9u8; 900 * 1024], &recipients, false);
    let created = json(upload(&app, &iro.access, &id, fits.clone()).await, 201).await;
    assert_eq!(created["size"], fits.len());
    let back = app
        .get_auth(
            &format!("/api/v1/attachments/{}", created["id"].as_str().unwrap()),
            &iro.access,
        )
        .await;
    assert_eq!(
        back.headers()["content-length"],
        fits.len().to_string().as_str()
    );
    assert_eq!(back.bytes().await.unwrap().to_vec(), fits);
}

async fn each_step_is_checked_against_the_state(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, id, recipients) = a_query(&app, &admin).await;
    let post = |path: String, token: String, body: Value| {
        let app = &app;
        async move { app.post_json(&path, Some(&token), &body).await }
    };
    let msg = json!({"body": armored("reply", &recipients)});
    // The adviser writes only after accepting.
    let res = post(
        format!("/api/v1/queries/{id}/messages"),
        adviser.access.clone(),
        msg.clone(),
    )
    .await;
    assert_problem(res, 409, "query-state").await;
    json(
        post(
            format!("/api/v1/queries/{id}/accept"),
            adviser.access.clone(),
            json!({}),
        )
        .await,
        200,
    )
    .await;
    let res = post(
        format!("/api/v1/queries/{id}/accept"),
        adviser.access.clone(),
        json!({}),
    )
    .await;
    assert_problem(res, 409, "query-state").await;
    let res = post(
        format!("/api/v1/queries/{id}/decline"),
        adviser.access.clone(),
        json!({"reason": "capacity"}),
    )
    .await;
    assert_problem(res, 409, "query-state").await;
    let res = post(
        format!("/api/v1/queries/{id}/route"),
        iro.access.clone(),
        json!({"adviser_id": adviser.id, "messages": []}),
    )
    .await;
    assert_problem(res, 409, "query-state").await;
    json(
        post(
            format!("/api/v1/queries/{id}/messages"),
            adviser.access.clone(),
            msg.clone(),
        )
        .await,
        201,
    )
    .await;
    let res = post(
        format!("/api/v1/queries/{id}/decline"),
        adviser.access.clone(),
        json!({"reason": "because"}),
    )
    .await;
    assert_problem(res, 400, "invalid-json").await;
    json(
        post(
            format!("/api/v1/queries/{id}/close"),
            iro.access.clone(),
            json!({"outcome": "advice_given"}),
        )
        .await,
        200,
    )
    .await;
    // Nothing after close.
    for (path, token, body) in [
        (
            format!("/api/v1/queries/{id}/accept"),
            &adviser.access,
            json!({}),
        ),
        (
            format!("/api/v1/queries/{id}/messages"),
            &iro.access,
            msg.clone(),
        ),
        (
            format!("/api/v1/queries/{id}/messages"),
            &adviser.access,
            msg.clone(),
        ),
        (
            format!("/api/v1/queries/{id}/close"),
            &iro.access,
            json!({"outcome": "withdrawn"}),
        ),
    ] {
        let res = post(path.clone(), token.clone(), body).await;
        assert_problem(res, 409, "query-state").await;
    }
    let res = upload(&app, &iro.access, &id, encrypt(b"late", &recipients, false)).await;
    assert_problem(res, 409, "query-state").await;
    let shown = json(
        app.get_auth(&format!("/api/v1/queries/{id}"), &iro.access)
            .await,
        200,
    )
    .await;
    assert_eq!(shown["status"], "closed");
    assert_eq!(shown["outcome"], "advice_given");
    assert_eq!(shown["messages"].as_array().unwrap().len(), 2);
}

async fn after_a_decline_the_adviser_is_gone_and_routing_carries_every_message(app: TestApp) {
    let admin = app.admin().await;
    let post = |path: String, token: String, body: Value| {
        let app = &app;
        async move { app.post_json(&path, Some(&token), &body).await }
    };
    // After a decline, the adviser is gone from the query, and may not be routed it again.
    let (iro, adviser, id, recipients) = a_query(&app, &admin).await;
    json(
        post(
            format!("/api/v1/queries/{id}/decline"),
            adviser.access.clone(),
            json!({"reason": "conflict"}),
        )
        .await,
        200,
    )
    .await;
    let res = post(
        format!("/api/v1/queries/{id}/messages"),
        adviser.access.clone(),
        json!({"body": armored("x", &recipients)}),
    )
    .await;
    assert_problem(res, 404, "not-found").await;
    let shown = json(
        app.get_auth(&format!("/api/v1/queries/{id}"), &iro.access)
            .await,
        200,
    )
    .await;
    let messages: Vec<Value> = shown["messages"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| json!({"id": m["id"], "body": armored("again", &recipients)}))
        .collect();
    let res = post(
        format!("/api/v1/queries/{id}/route"),
        iro.access.clone(),
        json!({"adviser_id": adviser.id, "messages": messages}),
    )
    .await;
    assert_problem(res, 422, "adviser-not-eligible").await;
    // Routing must carry every message exactly once.
    let next = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    app.register_key(&next).await;
    let res = post(
        format!("/api/v1/queries/{id}/route"),
        iro.access.clone(),
        json!({"adviser_id": next.id, "messages": []}),
    )
    .await;
    assert_problem(res, 422, "messages-mismatch").await;
    let shown_after = json(
        app.get_auth(&format!("/api/v1/queries/{id}"), &iro.access)
            .await,
        200,
    )
    .await;
    assert_eq!(
        shown_after["status"], "declined",
        "a refused route changes nothing"
    );
    assert_eq!(shown_after["messages"], shown["messages"]);
    json(
        post(
            format!("/api/v1/queries/{id}/route"),
            iro.access.clone(),
            json!({"adviser_id": next.id, "messages": messages}),
        )
        .await,
        200,
    )
    .await;
    // The IRO is told who declined and why; the adviser the query went to next is not.
    let declines = shown_after["declines"].as_array().unwrap();
    assert_eq!(declines.len(), 1, "{declines:?}");
    assert_eq!(declines[0]["reason"], "conflict");
    assert!(declines[0]["adviser_name"]
        .as_str()
        .unwrap()
        .starts_with("Test Person "));
    assert!(declines[0]["declined_at"].is_string());
    let seen_by_next = json(
        app.get_auth(&format!("/api/v1/queries/{id}"), &next.access)
            .await,
        200,
    )
    .await;
    assert!(seen_by_next.get("declines").is_none(), "{seen_by_next}");
}

async fn an_unaccepted_urgent_query_is_reminded_once(app: TestApp) {
    let app = iro_advice_testkit::spawn_app_with(
        app.backend,
        &[
            ("IRO_ADVICE_REMINDER_URGENT_MINUTES", "0"),
            ("IRO_ADVICE_REMINDER_CHECK_SECS", "1"),
        ],
    )
    .await
    .unwrap();
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    let (iro_cli, adviser_cli) = (Client::setup(&app, &iro), Client::setup(&app, &adviser));
    let recipients = vec![
        iro_cli.identity().to_public(),
        adviser_cli.identity().to_public(),
    ];
    let before = app.count("outbox");
    let routine = json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "routine", "body": signed_armored("r", &recipients, &iro_cli.identity(), &iro.id, iro_advice_model::signing::OPENING)});
    json(
        app.post_json("/api/v1/queries", Some(&iro.access), &routine)
            .await,
        201,
    )
    .await;
    let urgent = json!({"adviser_id": adviser.id, "category": "other", "stage": "none", "urgency": "urgent", "body": signed_armored("u", &recipients, &iro_cli.identity(), &iro.id, iro_advice_model::signing::OPENING)});
    json(
        app.post_json("/api/v1/queries", Some(&iro.access), &urgent)
            .await,
        201,
    )
    .await;
    // Two notifications of the new queries, then one reminder to each side for the urgent one.
    let mut reminded = false;
    for _ in 0..60 {
        if app.count("outbox") >= before + 4 {
            reminded = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(reminded, "no reminder was sent");
    actix_web::rt::time::sleep(std::time::Duration::from_millis(2500)).await;
    assert_eq!(
        app.count("outbox"),
        before + 4,
        "reminded once only; the routine query is not due"
    );

    // Both sides see which query waited past its reminder time, and that it may be routed
    // elsewhere; urgent ones stand out.
    let listed = json(app.get_auth("/api/v1/queries", &iro.access).await, 200).await;
    let by_urgency = |u: &str| {
        listed
            .as_array()
            .unwrap()
            .iter()
            .find(|q| q["urgency"] == u)
            .unwrap()
            .clone()
    };
    let (urgent, routine) = (by_urgency("urgent"), by_urgency("routine"));
    assert_eq!(urgent["waited_past_reminder"], true);
    assert_eq!(routine["waited_past_reminder"], false);
    assert!(routine["reminder_at"].as_str().unwrap() > urgent["reminder_at"].as_str().unwrap());
    for cli in [&iro_cli, &adviser_cli] {
        let inbox = cli.ok(&["inbox"]);
        let row = |id: &str| inbox.lines().find(|l| l.contains(id)).unwrap().to_owned();
        let urgent_row = row(urgent["id"].as_str().unwrap());
        assert!(
            urgent_row.contains("submitted *") && urgent_row.contains("URGENT"),
            "{inbox}"
        );
        let routine_row = row(routine["id"].as_str().unwrap());
        assert!(
            !routine_row.contains('*') && routine_row.contains("routine"),
            "{inbox}"
        );
        assert!(inbox.contains("may route it to another adviser"), "{inbox}");
    }
    let shown = adviser_cli.ok(&["show", urgent["id"].as_str().unwrap()]);
    assert!(shown.contains("Waited past its reminder time"), "{shown}");
    assert!(
        shown.contains("Herefordshire"),
        "authorities by name: {shown}"
    );
    let shown = iro_cli.ok(&["show", routine["id"].as_str().unwrap()]);
    assert!(shown.contains("the adviser is reminded at"), "{shown}");

    // Accepted, it waits no longer.
    let urgent_id = urgent["id"].as_str().unwrap();
    json(
        app.post_json(
            &format!("/api/v1/queries/{urgent_id}/accept"),
            Some(&adviser.access),
            &json!({}),
        )
        .await,
        200,
    )
    .await;
    let shown = json(
        app.get_auth(&format!("/api/v1/queries/{urgent_id}"), &iro.access)
            .await,
        200,
    )
    .await;
    assert_eq!(shown["waited_past_reminder"], false);
    assert!(shown.get("reminder_at").is_none());
}

async fn an_upload_cut_off_half_way_leaves_nothing(app: TestApp) {
    let admin = app.admin().await;
    let (iro, _, id, recipients) = a_query(&app, &admin).await;
    let file = encrypt(&vec![3u8; 3 * 1024 * 1024], &recipients, false);
    // Two and a half megabytes arrive, then the connection breaks.
    let mut pieces: Vec<Result<Vec<u8>, std::io::Error>> = file[..2560 * 1024]
        .chunks(256 * 1024)
        .map(|c| Ok(c.to_vec()))
        .collect();
    pieces.push(Err(std::io::Error::new(
        std::io::ErrorKind::ConnectionReset,
        "cut",
    )));
    let res = app
        .client
        .post(app.url(&format!("/api/v1/queries/{id}/attachments")))
        .bearer_auth(&iro.access)
        .body(reqwest::Body::wrap_stream(futures_util::stream::iter(
            pieces,
        )))
        .send()
        .await;
    assert!(res.is_err() || !res.unwrap().status().is_success());
    // The server may still be writing what arrived when the client gives up; over HTTP/1.1
    // it learns of the break only as a dropped request, with no error to handle.
    actix_web::rt::time::sleep(std::time::Duration::from_millis(500)).await;
    let mut clean = false;
    for _ in 0..50 {
        if app.count("attachments") == 0 && app.count("attachment_chunks") == 0 {
            clean = true;
            break;
        }
        actix_web::rt::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    assert!(clean, "a cut-off upload left chunks behind");
    // Meanwhile a whole one still goes through.
    json(upload(&app, &iro.access, &id, file).await, 201).await;
    assert_eq!(app.count("attachment_chunks"), 4);
}

#[actix_web::test]
async fn keygen_writes_a_standard_identity_file_owner_only_and_optionally_protected() {
    let app = iro_advice_testkit::spawn_app(iro_advice_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let cli = Client::setup(&app, &iro);
    let identity_path = cli.profile.path().join("identity.txt");
    let text = std::fs::read_to_string(&identity_path).unwrap();
    assert!(text.starts_with("# created: "), "{text}");
    let public = text
        .lines()
        .nth(1)
        .unwrap()
        .strip_prefix("# public key: ")
        .unwrap();
    assert!(text.lines().nth(2).unwrap().starts_with("AGE-SECRET-KEY-1"));
    let me = json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["age_recipient"], public);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        for entry in std::fs::read_dir(cli.profile.path()).unwrap() {
            let entry = entry.unwrap();
            let mode = entry.metadata().unwrap().permissions().mode();
            assert_eq!(
                mode & 0o077,
                0,
                "{} is readable by others",
                entry.path().display()
            );
        }
    }
    // The same file works with the age command-line tool, where it is installed.
    let secret_file = cli.file(
        "note.age",
        &encrypt(b"for the age tool", &[cli.identity().to_public()], false),
    );
    match Command::new("age")
        .arg("-d")
        .arg("-i")
        .arg(&identity_path)
        .arg(&secret_file)
        .output()
    {
        Ok(out) => assert_eq!(
            String::from_utf8_lossy(&out.stdout),
            "for the age tool",
            "{}",
            String::from_utf8_lossy(&out.stderr)
        ),
        // CI installs the age tool; on a developer's machine without it, say so.
        Err(_) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("the age tool is not installed: its half of this check was skipped")
        }
        Err(e) => panic!("the age tool must be installed in CI: {e}"),
    }
    // Replacing a key needs --force.
    assert!(cli.attempt(&["keygen"]).unwrap_err().contains("--force"));
    // And a fresh second factor: refused without one, keeping the identity in use.
    let before = std::fs::read(&identity_path).unwrap();
    let err = cli.attempt(&["keygen", "--force"]).unwrap_err();
    assert!(err.contains("step-up-required"), "{err}");
    assert_eq!(std::fs::read(&identity_path).unwrap(), before);
    let code = app.fresh_totp(&iro);

    // With a passphrase: the file is an age file itself, the server gets the wrapped copy.
    let out = Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args([
            "client",
            "keygen",
            "--passphrase",
            "--force",
            "--totp",
            &code,
            "--profile-dir",
        ])
        .arg(cli.profile.path())
        .env("IRO_ADVICE_IDENTITY_PASSPHRASE", "a good long passphrase")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let wrapped = std::fs::read_to_string(&identity_path).unwrap();
    assert!(wrapped.starts_with("-----BEGIN AGE ENCRYPTED FILE-----"));
    let passphrase = age::scrypt::Identity::new("a good long passphrase".to_owned().into());
    let d = age::Decryptor::new(age::armor::ArmoredReader::new(wrapped.as_bytes())).unwrap();
    let mut inner = String::new();
    d.decrypt(std::iter::once(&passphrase as &dyn age::Identity))
        .unwrap()
        .read_to_string(&mut inner)
        .unwrap();
    assert!(inner.contains("AGE-SECRET-KEY-1"));
    let stored = {
        let db = app.database();
        let mut conn = db.get().unwrap();
        iro_advice_server::accounts::store::wrapped_identity(
            &mut conn,
            &iro_advice_model::accounts::AccountId::from_string(iro.id.clone()),
        )
        .unwrap()
    };
    assert_eq!(stored.as_deref(), Some(wrapped.as_str()));
    // Without the passphrase the client cannot use it.
    let err = cli
        .attempt(&["show", "00000000-0000-0000-0000-000000000000"])
        .unwrap_err();
    assert!(
        err.contains("assphrase")
            || err.contains("tty")
            || err.contains("terminal")
            || err.contains("device"),
        "{err}"
    );
}

/// The client checks what it can before anything is sent, says clearly what is wrong with a
/// connection, and remembers the server.
#[actix_web::test]
async fn the_client_checks_before_it_sends_and_says_what_went_wrong() {
    let app = iro_advice_testkit::spawn_app(iro_advice_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let other = iro_advice_testkit::spawn_app(iro_advice_testkit::Backend::Sqlite)
        .await
        .unwrap();
    let admin = app.admin().await;
    let iro = app.user(&admin, Role::Iro, Some("E06000019"), None).await;
    let adviser = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    Client::setup(&app, &adviser);

    // Connections: an http:// address, no certificate to trust, the wrong one.
    let cli = Client::new();
    let plain = app.base.replace("https://", "http://");
    let login = |extra: &[&str]| {
        let code = app.fresh_totp(&iro);
        let mut args = vec!["login", "--email", &iro.email, "--totp", &code];
        args.extend_from_slice(extra);
        cli.attempt(&args)
    };
    let err = login(&["--server", &plain]).unwrap_err();
    assert!(err.contains("is not an https:// address"), "{err}");
    let err = login(&["--server", &app.base]).unwrap_err();
    assert!(
        err.contains("certificate is not one this profile trusts"),
        "{err}"
    );
    let wrong = other.ca_path();
    let err = login(&["--server", &app.base, "--ca", wrong.to_str().unwrap()]).unwrap_err();
    assert!(
        err.contains("certificate is not one this profile trusts"),
        "{err}"
    );
    let ca = app.ca_path();
    login(&["--server", &app.base, "--ca", ca.to_str().unwrap()]).unwrap();
    // Remembered: the next sign-in needs neither.
    login(&[]).unwrap();
    cli.ok(&["keygen"]);

    // A missing or oversized attachment is found before the query goes.
    let question = cli.file("q.txt", b"The care plan has drifted; what can I do?");
    let before = (
        app.count("queries"),
        app.count("outbox"),
        app.count("log_leaves"),
    );
    let ask = |extra: &[&str]| {
        let mut args = vec![
            "ask",
            "--adviser",
            &adviser.id,
            "--category",
            "care_plan_drift",
            "--stage",
            "informal",
            "--urgency",
            "routine",
        ];
        args.extend_from_slice(extra);
        cli.attempt(&args)
    };
    let missing = cli.profile.path().join("minutes.pdf");
    let err = ask(&[
        "--body",
        path_str(&question),
        "--attach",
        path_str(&missing),
    ])
    .unwrap_err();
    assert!(err.contains("minutes.pdf"), "{err}");
    let big = cli.file("big.bin", &vec![0u8; 51 * 1024 * 1024]);
    let err = ask(&["--body", path_str(&question), "--attach", path_str(&big)]).unwrap_err();
    assert!(err.contains("more than the service takes"), "{err}");
    std::fs::remove_file(&big).unwrap();
    // A possible name (a possessive too) stops it, without a terminal, unless --yes.
    let named = cli.file(
        "named.txt",
        b"Jayden Smith's placement moved without a review.",
    );
    let err = ask(&["--body", path_str(&named)]).unwrap_err();
    assert!(
        err.contains("Jayden Smith") && err.contains("Nothing was sent"),
        "{err}"
    );
    // No question and no editor: a clear way forward, not vi.
    let out = Command::new(env!("CARGO_BIN_EXE_iro-advice"))
        .args([
            "client",
            "ask",
            "--adviser",
            &adviser.id,
            "--category",
            "other",
        ])
        .args(["--stage", "none", "--urgency", "routine", "--profile-dir"])
        .arg(cli.profile.path())
        .env_remove("EDITOR")
        .env_remove("VISUAL")
        .stdin(std::process::Stdio::null())
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--body FILE"));
    assert_eq!(
        (
            app.count("queries"),
            app.count("outbox"),
            app.count("log_leaves")
        ),
        before,
        "nothing was sent"
    );
    let sent = ask(&["--body", path_str(&named), "--yes"]).unwrap();
    let id = sent.trim_end().lines().last().unwrap().to_owned();
    assert_eq!(app.count("queries"), before.0 + 1);

    // fetch does not overwrite a file without --force.
    let doc = cli.file("doc.txt", b"minutes of the review");
    cli.ok(&["attach", &id, path_str(&doc)]);
    let shown = cli.json(&["show", &id]);
    let attachment = shown["attachments"][0]["id"].as_str().unwrap().to_owned();
    let out = cli.file("out.txt", b"something of mine");
    let err = cli
        .attempt(&["fetch", &attachment, "--out", path_str(&out)])
        .unwrap_err();
    assert!(err.contains("--force"), "{err}");
    assert_eq!(std::fs::read(&out).unwrap(), b"something of mine");
    cli.ok(&["fetch", &attachment, "--out", path_str(&out), "--force"]);
    assert_eq!(std::fs::read(&out).unwrap(), b"minutes of the review");
}

both_databases!(a_querys_status_or_adviser_changed_in_the_database_alone_stops_it);

/// The service reads a query's status only as its latest status act in the log says: the
/// operator who closes a query in the database (to stop the adviser's answer), gives it to
/// another adviser, or winds it back to before its acceptance, stops it for both
/// participants with a problem that says why, and nothing is stored or logged; put back, it
/// goes on as before.
async fn a_querys_status_or_adviser_changed_in_the_database_alone_stops_it(app: TestApp) {
    use diesel::prelude::*;
    use iro_advice_server::db::schema::queries;
    let admin = app.admin().await;
    let (iro, adviser, id, recipients) = a_query(&app, &admin).await;
    let insider = app
        .user(&admin, Role::Adviser, None, Some(AdviserKind::Solicitor))
        .await;
    app.register_key(&insider).await;
    let res = app
        .post_json(
            &format!("/api/v1/queries/{id}/accept"),
            Some(&adviser.access),
            &json!({}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let path = format!("/api/v1/queries/{id}");
    let show = |token: &str| {
        let token = token.to_owned();
        let (app, path) = (&app, &path);
        async move { app.get_auth(path, &token).await }
    };
    assert_eq!(show(&iro.access).await.status(), 200);
    let set = |f: &dyn Fn(&mut iro_advice_server::db::DbConnection)| {
        let db = app.database();
        let mut conn = db.get().unwrap();
        f(&mut conn);
    };
    let put_back = || {
        set(&|c| {
            diesel::update(queries::table.find(&id))
                .set((
                    queries::status.eq("accepted"),
                    queries::outcome.eq(None::<&str>),
                    queries::adviser_id.eq(&adviser.id),
                    queries::status_changes.eq(2),
                ))
                .execute(c)
                .unwrap();
        })
    };
    type Tamper<'a> = Box<dyn Fn(&mut iro_advice_server::db::DbConnection) + 'a>;
    let tampering: [(&str, Tamper); 3] = [
        (
            "closed in the database",
            Box::new(|c| {
                diesel::update(queries::table.find(&id))
                    .set((
                        queries::status.eq("closed"),
                        queries::outcome.eq(Some("withdrawn")),
                    ))
                    .execute(c)
                    .unwrap();
            }),
        ),
        (
            "given to another adviser",
            Box::new(|c| {
                diesel::update(queries::table.find(&id))
                    .set(queries::adviser_id.eq(&insider.id))
                    .execute(c)
                    .unwrap();
            }),
        ),
        (
            "wound back to before its acceptance",
            Box::new(|c| {
                diesel::update(queries::table.find(&id))
                    .set((
                        queries::status.eq("submitted"),
                        queries::status_changes.eq(1),
                    ))
                    .execute(c)
                    .unwrap();
            }),
        ),
    ];
    for (what, tamper) in &tampering {
        set(tamper.as_ref());
        let (messages, leaves) = (
            app.count("messages"),
            app.count("log_leaves") + app.count("log_pending"),
        );
        let res = show(&iro.access).await;
        assert_problem(res, 409, "query-not-as-logged").await;
        let res = app
            .post_json(
                &format!("/api/v1/queries/{id}/messages"),
                Some(&iro.access),
                &json!({"body": armored("are you still there?", &recipients)}),
            )
            .await;
        assert_problem(res, 409, "query-not-as-logged").await;
        let res = app
            .post_json(
                &format!("/api/v1/queries/{id}/close"),
                Some(&iro.access),
                &json!({"outcome": "advice_given"}),
            )
            .await;
        assert_eq!(res.status(), 409, "{what}");
        assert_eq!(
            (
                app.count("messages"),
                app.count("log_leaves") + app.count("log_pending")
            ),
            (messages, leaves),
            "{what}: nothing stored, nothing logged"
        );
        put_back();
        assert_eq!(show(&iro.access).await.status(), 200, "{what}, put back");
        assert_eq!(
            show(&adviser.access).await.status(),
            200,
            "{what}, put back"
        );
    }
    // And the query goes on as before: its next status act is its third.
    let res = app
        .post_json(
            &format!("/api/v1/queries/{id}/close"),
            Some(&iro.access),
            &json!({"outcome": "advice_given"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    assert_eq!(show(&iro.access).await.status(), 200);
}
