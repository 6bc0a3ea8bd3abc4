//! `client login` and `client keygen`: the profile's server, tokens and age identity.

use std::path::PathBuf;

use serde_json::json;

use super::api::{check, http_client, Api};
use super::crypto;
use super::error::{read_file, ClientError};
use super::output::Output;
use super::profile::{Profile, Settings, Tokens};
use super::trust::{check_log, pin, Requested};
use iro_advice_api::paths;
use iro_advice_api::{KeyRequest, LoginRequest, TokenPair};
use iro_advice_model::accounts::{AgeRecipient, MIN_IDENTITY_PASSPHRASE};

pub struct Login {
    pub server: Option<String>,
    pub email: String,
    pub ca: Option<PathBuf>,
    pub totp: Option<String>,
    pub trust: Requested,
}

pub async fn login(profile: Profile, login: Login) -> Result<Output, ClientError> {
    let Login {
        server,
        email,
        ca,
        totp,
        trust,
    } = login;
    let remembered = profile.settings().ok();
    let server = match (server, &remembered) {
        (Some(s), _) => s,
        (None, Some(r)) => r.server.clone(),
        (None, None) => {
            return Err(ClientError::Profile(
                "which service? give its address with --server https://…".into(),
            ))
        }
    };
    let server = server.trim().trim_end_matches('/').to_owned();
    if !server.starts_with("https://") {
        return Err(ClientError::Profile(format!(
            "{server:?} is not an https:// address: the service only speaks HTTPS (for example \
             --server https://127.0.0.1:8443)"
        )));
    }
    // The certificate this profile trusts for the same server, unless another is given.
    let ca_pem = match (&ca, &remembered) {
        (Some(path), _) => Some(read_file(path)?),
        (None, Some(r)) if r.server == server => std::fs::read(profile.ca_path()).ok(),
        _ => None,
    };
    let http = http_client(ca_pem.as_deref())?;
    // Keys first: a profile never signs in to a log whose keys changed under it.
    let (pinned, pinned_note) = pin(&http, &server, &profile, trust).await?;
    // And no password goes to a service whose log this profile cannot trust.
    check_log(&http, &server, &profile, &pinned).await?;
    let password = match std::env::var("IRO_ADVICE_PASSWORD") {
        Ok(p) => p,
        Err(_) => prompt_secret("Password: ", "IRO_ADVICE_PASSWORD")?,
    };
    let mut body = LoginRequest {
        email: email.clone(),
        password,
        totp_code: totp.clone(),
        // Passkeys live in browsers; the terminal client uses TOTP.
        passkey: None,
        device_token: profile.device_token(&server, &email)?,
    };
    let url = format!("{server}{}", paths::LOGIN);
    let mut res = check(http.post(&url).json(&body).send().await?).await;
    // The right password, and the account has a second factor: ask for the code once.
    if let (Err(ClientError::Api { kind, .. }), None) = (&res, &totp) {
        if kind == "second-factor-required" {
            let code = prompt_secret("TOTP code (from your authenticator app): ", "--totp CODE")?;
            body.totp_code = Some(code.trim().to_owned());
            res = check(http.post(&url).json(&body).send().await?).await;
        }
    }
    let signed_in: TokenPair = res?.json().await?;
    if let Some(device) = &signed_in.device_token {
        profile.save_device_token(&server, &email, device)?;
    }
    let tokens = Tokens {
        access_token: signed_in.access_token,
        refresh_token: signed_in.refresh_token.ok_or_else(|| {
            ClientError::Profile("the server gave no refresh token at sign-in".into())
        })?,
    };
    if let Some(pem) = &ca_pem {
        profile.save_ca(pem)?;
    }
    profile.save_settings(&Settings {
        server: server.clone(),
        email: email.clone(),
    })?;
    profile.save_tokens(&tokens)?;
    profile.save_pinned(&pinned)?;
    let mut text = format!("Signed in to {server} as {email}.");
    if signed_in.failed_sign_ins > 0 {
        text.push_str(&format!(
            "\nWarning: {} failed sign-in attempt(s) on your account since you last signed in. \
             If they were not yours, someone is trying your password: tell NAIRO, and report \
             it with `client pressure` if you think it is your employer.",
            signed_in.failed_sign_ins
        ));
    }
    if let Some(note) = pinned_note {
        text.push('\n');
        text.push_str(&note);
    }
    Output::new(text, json!({"server": server, "email": email}))
}

/// `client totp`: begins enrolment and, at a terminal, finishes it; or finishes one begun
/// earlier with `--code`.
pub async fn totp(api: &Api, code: Option<String>) -> Result<Output, ClientError> {
    let confirm = |code: String| async move {
        api.post_no_content(
            paths::ME_TOTP_CONFIRM,
            &iro_advice_api::TotpCode {
                code: code.trim().to_owned(),
            },
        )
        .await
    };
    if let Some(code) = code {
        confirm(code).await?;
        return Output::new(
            "Second factor enrolled. Signing in now needs a code from your authenticator app; every other session of your account has ended.",
            json!({"enrolled": true}),
        );
    }
    let enrolment: iro_advice_api::TotpEnrolment = api.post(paths::ME_TOTP, &json!({})).await?;
    let shown = format!(
        "Add this account to your authenticator app (the secret, or the otpauth link as a QR code):
  secret: {}
  link:   {}",
        enrolment.secret, enrolment.otpauth_uri
    );
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Output::new(
            format!(
                "{shown}
Then run `iro-advice client totp --code CODE` with the code it shows."
            ),
            json!({"secret": enrolment.secret, "otpauth_uri": enrolment.otpauth_uri, "enrolled": false}),
        );
    }
    eprintln!("{shown}");
    let code = prompt_secret("Code from the app: ", "--code CODE")?;
    confirm(code).await?;
    Output::new(
        "Second factor enrolled. Signing in now needs a code from your authenticator app.",
        json!({"enrolled": true}),
    )
}

/// `client password`: a new password, with the current one and a fresh code.
pub async fn password(api: &Api, totp_code: String) -> Result<Output, ClientError> {
    let current = match std::env::var("IRO_ADVICE_PASSWORD") {
        Ok(p) => p,
        Err(_) => prompt_secret("Current password: ", "IRO_ADVICE_PASSWORD")?,
    };
    let new = match std::env::var("IRO_ADVICE_NEW_PASSWORD") {
        Ok(p) => p,
        Err(_) => {
            let p = prompt_secret(
                "New password (12 characters or more): ",
                "IRO_ADVICE_NEW_PASSWORD",
            )?;
            if p != prompt_secret("Again: ", "IRO_ADVICE_NEW_PASSWORD")? {
                return Err(ClientError::Profile("the new passwords differ".into()));
            }
            p
        }
    };
    api.put(
        paths::ME_PASSWORD,
        &json!({"current_password": current, "new_password": new, "totp_code": totp_code.trim()}),
    )
    .await?;
    Output::new(
        "Password changed. Every other session of your account has ended.",
        json!({"changed": true}),
    )
}

/// `client logout`: ends the session on the server, then forgets its tokens here.
pub async fn logout(api: &Api) -> Result<Output, ClientError> {
    let tokens = api.profile().tokens()?;
    let (http, server) = api.public();
    let res = http
        .post(format!("{server}{}", paths::LOGOUT))
        .json(&iro_advice_api::RefreshRequest {
            refresh_token: Some(tokens.refresh_token),
        })
        .send()
        .await?;
    check(res).await?;
    api.profile().forget_tokens()?;
    Output::new(
        "Signed out: this session has ended on the server and its tokens are gone from this profile. Your identity file and pinned keys are kept.",
        json!({"signed_out": true}),
    )
}

/// Asks for a secret at the terminal; without one, says how to give it instead.
fn prompt_secret(prompt: &str, instead: &str) -> Result<String, ClientError> {
    use std::io::IsTerminal;
    if !std::io::stdin().is_terminal() {
        return Err(ClientError::Profile(format!(
            "no terminal to ask on: give it with {instead}"
        )));
    }
    rpassword::prompt_password(prompt).map_err(|e| ClientError::Profile(e.to_string()))
}

/// The passphrase for a new identity file, from the environment or asked twice.
fn new_passphrase() -> Result<String, ClientError> {
    if let Ok(p) = std::env::var("IRO_ADVICE_IDENTITY_PASSPHRASE") {
        return Ok(p);
    }
    let p = rpassword::prompt_password("New passphrase for your identity: ")
        .map_err(|e| ClientError::Profile(e.to_string()))?;
    let again =
        rpassword::prompt_password("Again: ").map_err(|e| ClientError::Profile(e.to_string()))?;
    if p != again {
        return Err(ClientError::Profile("the passphrases differ".into()));
    }
    Ok(p)
}

/// Refuses a passphrase shorter than the page accepts: the wrapped identity is stored on the
/// service, so anyone with a copy of its database can try passphrases offline.
fn strong_enough(passphrase: String) -> Result<String, ClientError> {
    let chars = passphrase.chars().count();
    if chars < MIN_IDENTITY_PASSPHRASE {
        return Err(ClientError::Profile(format!(
            "the passphrase has {chars} characters; use at least {MIN_IDENTITY_PASSPHRASE} \
             (a few unrelated words are easy to remember): the wrapped identity is kept by the \
             service, where a copy of its database could be tried offline"
        )));
    }
    Ok(passphrase)
}

pub async fn keygen(
    api: &Api,
    passphrase: bool,
    force: bool,
    totp_code: Option<String>,
) -> Result<Output, ClientError> {
    let path = api.profile().identity_path();
    if path.exists() && !force {
        return Err(ClientError::Profile(format!(
            "{} already exists; replacing it makes queries encrypted to it unreadable here (use --force)",
            path.display()
        )));
    }
    // The key being replaced, if this profile can open it without asking: it signs the new
    // one over, and correspondents are told the change came from a device that held it.
    let previous = if force {
        crypto::load_identity_quietly(&path)
    } else {
        None
    };
    let identity = age::x25519::Identity::generate();
    let recipient = identity.to_public().to_string();
    let handover = match previous {
        Some(old) => {
            use age::secrecy::ExposeSecret;
            let signed_at = chrono::Utc::now().timestamp();
            let secret = old.to_string();
            iro_advice_model::signing::sign_digest(
                secret.expose_secret(),
                iro_advice_model::signing::KEY_CHANGE,
                &api.account_id()?,
                signed_at,
                &iro_advice_model::signing::key_change_digest(&recipient),
            )
            .map(|signature| iro_advice_api::AuthorSignature {
                signed_at,
                signature,
            })
        }
        None => None,
    };
    let text = crypto::identity_file_text(&identity);
    let (file, wrapped_identity) = if passphrase {
        let wrapped =
            crypto::encrypt_with_passphrase(text.as_bytes(), &strong_enough(new_passphrase()?)?)?;
        let for_server = iro_advice_model::ciphertext::PassphraseWrapped::parse(&wrapped)
            .map_err(|e| ClientError::Crypto(e.to_string()))?;
        (wrapped.into_bytes(), Some(for_server.into()))
    } else {
        (text.into_bytes(), None)
    };
    let body = KeyRequest {
        age_recipient: AgeRecipient::parse(&recipient).map_err(ClientError::Crypto)?,
        wrapped_identity,
        totp_code,
        passkey: None,
        handover,
    };
    api.profile().ensure_dir()?;
    // Remembered first: a key event for this account that this profile did not make is
    // an alarm at the next command.
    api.profile().add_own_key(&recipient)?;
    // The new identity goes beside the old one until the server has taken its key: a
    // refused replacement (no current code) must not cost the identity in use.
    let pending = path.with_extension("new");
    iro_advice_model::files::write_private(&pending, &file)
        .map_err(|e| ClientError::io(&pending, e))?;
    if let Err(e) = api.put(paths::ME_KEY, &body).await {
        let _ = std::fs::remove_file(&pending);
        return Err(e);
    }
    std::fs::rename(&pending, &path).map_err(|e| ClientError::io(&path, e))?;
    Output::new(
        format!(
            "Wrote {} and registered your public key:\n{recipient}",
            path.display()
        ),
        json!({"identity": path, "age_recipient": recipient}),
    )
}

/// `client conflicts`: declares the adviser's conflicts, remembering the set first so that
/// the watch knows this change as the user's own.
pub async fn conflicts(
    api: &Api,
    authorities: Vec<iro_advice_model::authorities::AuthorityCode>,
) -> Result<Output, ClientError> {
    let codes: Vec<&str> = authorities.iter().map(|a| a.as_str()).collect();
    let digest = iro_advice_model::hex(&iro_advice_model::leaf::conflicts_digest(&codes));
    api.profile().add_own_conflicts(&digest)?;
    api.put(
        paths::ME_CONFLICTS,
        &iro_advice_api::ConflictsRequest {
            authority_codes: authorities.clone(),
        },
    )
    .await?;
    let listed = if codes.is_empty() {
        "none".to_owned()
    } else {
        codes.join(", ")
    };
    Output::new(
        format!("Your declared conflicts are now: {listed}."),
        json!({ "authority_codes": codes }),
    )
}
