//! Only real age ciphertext is stored. Each way of smuggling readable text past the server's
//! checks, as tried by someone who wanted a child's details in the database in the clear
//! (made-up stanzas, text where the ciphertext should be, a passphrase "wrap" a key can be
//! read from), is refused with its own problem type, and leaves no row, chunk or leaf.

use std::io::Write;

use serde_json::json;

use iro_advice_testkit::both_databases;
use iro_advice_testkit::{a_query, armored, encrypt, upload};
use iro_advice_testkit::{assert_problem, TestApp};

both_databases!(smuggled_plaintext_is_refused_and_leaves_nothing);

/// A real armored file's header with its stanzas replaced by `stanzas`, and `payload`
/// after it.
fn forge(stanzas: &str, payload: &[u8], recipients: &[age::x25519::Recipient]) -> Vec<u8> {
    let real = encrypt(b"x", recipients, false);
    let mac = real.windows(4).position(|w| w == b"--- ").unwrap();
    let header_end = mac + 4 + 43 + 1;
    let mut out = b"age-encryption.org/v1\n".to_vec();
    if stanzas.is_empty() {
        out.extend_from_slice(&real[22..mac]);
    } else {
        out.extend_from_slice(stanzas.as_bytes());
    }
    out.extend_from_slice(&real[mac..header_end]);
    out.extend_from_slice(payload);
    out
}

fn armor(binary: &[u8]) -> String {
    let mut out = Vec::new();
    let mut w =
        age::armor::ArmoredWriter::wrap_output(&mut out, age::armor::Format::AsciiArmor).unwrap();
    w.write_all(binary).unwrap();
    w.finish().unwrap();
    String::from_utf8(out).unwrap()
}

/// Everything a refused act could have left behind.
fn footprint(app: &TestApp) -> Vec<i64> {
    [
        "queries",
        "messages",
        "attachments",
        "attachment_chunks",
        "pressure_reports",
        "log_leaves",
        "outbox",
    ]
    .iter()
    .map(|t| app.count(t))
    .collect()
}

async fn smuggled_plaintext_is_refused_and_leaves_nothing(app: TestApp) {
    let admin = app.admin().await;
    let (iro, adviser, id, recipients) = a_query(&app, &admin).await;
    // 69 bytes of text: a length a real one-chunk payload can have.
    let text = b"Child=Jane-Smith DOB=2015-03-01 placement breaking down, please advise";
    let made_up = forge("-> Child=Jane-Smith DOB=2015-03-01\n\n", text, &recipients);
    let text_payload = forge("", text, &recipients);
    let to_iro_only = encrypt(b"a question", &recipients[..1], false);
    let random = |n: usize| {
        use ring::rand::SecureRandom;
        let mut bytes = vec![0u8; n];
        ring::rand::SystemRandom::new().fill(&mut bytes).unwrap();
        bytes
    };
    // Each way found past the first checks (issue 33): text inside X25519 stanzas of the
    // right shape, ...
    let b64 = |b: &[u8]| {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
    };
    let in_stanzas = forge(
        &format!(
            "-> X25519 {}\n{}\n-> X25519 {}\n{}\n",
            b64(b"CHILD: Jayden Smith, born 3 Mar."),
            b64(b"Placed with foster carers, Leeds"),
            b64(b"Mother: Kelly Smith, 14 Elm Road"),
            b64(b"School: St Mary's, year 5, SEN 2"),
        ),
        &random(33),
        &recipients,
    );
    // ... a grease stanza, as the age crate itself writes one, and one stanza too many, ...
    let greased = {
        let e =
            age::Encryptor::with_recipients(recipients.iter().map(|r| r as &dyn age::Recipient))
                .unwrap();
        let mut out = Vec::new();
        let mut w = e.wrap_output(&mut out).unwrap();
        w.write_all(b"a question").unwrap();
        w.finish().unwrap();
        out
    };
    let extra = age::x25519::Identity::generate().to_public();
    let one_too_many = encrypt(
        b"a question",
        &[recipients[0].clone(), recipients[1].clone(), extra],
        false,
    );
    // ... text after 64 KiB of random bytes, a short payload of text after a random nonce,
    // and compressed text.
    let mut late_text = random(16 + 65536 + 16);
    late_text.extend_from_slice(&text.repeat(3));
    let late_text = forge("", &late_text, &recipients);
    let mut short = random(16);
    short.extend_from_slice(b"CHILD: Jayden Smith, born 3 March");
    let short = forge("", &short, &recipients);
    let gzip = {
        let story = "Jayden Smith, born 3 March 2015, placement breaking down. ".repeat(40);
        let mut z = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03".to_vec();
        z.extend_from_slice(&miniz_oxide::deflate::compress_to_vec(story.as_bytes(), 9));
        z.extend_from_slice(&[0; 8]);
        let mut payload = random(16);
        payload.extend_from_slice(&z);
        forge("", &payload, &recipients)
    };
    let before = footprint(&app);

    let cases: Vec<(&[u8], &str)> = vec![
        (&made_up, "age-not-x25519"),
        (&text_payload, "age-plaintext-payload"),
        (&to_iro_only, "age-too-few-recipients"),
        (&in_stanzas, "age-plaintext-payload"),
        (&greased, "age-not-x25519"),
        (&one_too_many, "age-too-few-recipients"),
        (&late_text, "age-plaintext-payload"),
        (&short, "age-plaintext-payload"),
        (&gzip, "age-plaintext-payload"),
    ];
    for (binary, problem) in &cases {
        // As a new query's body.
        let res = app
            .post_json(
                "/api/v1/queries",
                Some(&iro.access),
                &json!({"adviser_id": adviser.id, "category": "placement", "stage": "none",
                        "urgency": "routine", "body": armor(binary)}),
            )
            .await;
        assert_problem(res, 400, problem).await;
        // As a message.
        let res = app
            .post_json(
                &format!("/api/v1/queries/{id}/messages"),
                Some(&iro.access),
                &json!({"body": armor(binary)}),
            )
            .await;
        assert_problem(res, 400, problem).await;
        // As an attachment, streamed.
        let res = upload(&app, &iro.access, &id, binary.to_vec()).await;
        assert_problem(res, 400, problem).await;
        // As a pressure report's narrative (which has one reader, the IRO, when not
        // shared: encrypting to the IRO alone is right there).
        if *problem != "age-too-few-recipients" && !std::ptr::eq(*binary, one_too_many.as_slice()) {
            let res = app
                .post_json(
                    "/api/v1/pressure-reports",
                    Some(&iro.access),
                    &json!({"kind": "other", "occurred_on": "2026-11-02",
                            "share_with_nairo": false, "narrative": armor(binary)}),
                )
                .await;
            assert_problem(res, 400, problem).await;
        }
    }
    assert_eq!(
        footprint(&app),
        before,
        "a refused act left something behind"
    );

    // A wrapped identity of work factor 1 with the secret key as its payload in the clear,
    // and a proper-looking one whose payload is the key in the clear.
    let identity = age::x25519::Identity::generate();
    let secret = {
        use age::secrecy::ExposeSecret;
        identity.to_string().expose_secret().to_owned()
    };
    let mut key_text = secret.clone().into_bytes();
    key_text.extend_from_slice(b"\n# created by hand\n");
    for (stanza, problem) in [
        (
            "-> scrypt AAAAAAAAAAAAAAAAAAAAAA 1\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
            "weak-wrapped-identity",
        ),
        (
            "-> scrypt AAAAAAAAAAAAAAAAAAAAAA 18\nAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA\n",
            "age-plaintext-payload",
        ),
    ] {
        let wrapped = armor(&forge(stanza, &key_text, &recipients));
        let res = app
            .put_json(
                "/api/v1/me/key",
                &iro.access,
                &json!({"age_recipient": identity.to_public().to_string(),
                        "wrapped_identity": wrapped}),
            )
            .await;
        assert_problem(res, 400, problem).await;
    }
    // Nothing changed: the IRO's registered key is still the one it had.
    let me: serde_json::Value =
        iro_advice_testkit::json(app.get_auth("/api/v1/me", &iro.access).await, 200).await;
    assert_eq!(me["age_recipient"], recipients[0].to_string());
    assert_eq!(footprint(&app), before);

    // Real ciphertext to both readers still goes through.
    let res = app
        .post_json(
            &format!("/api/v1/queries/{id}/messages"),
            Some(&iro.access),
            &json!({"body": armored("a real message", &recipients)}),
        )
        .await;
    assert_eq!(res.status(), 201);
}
