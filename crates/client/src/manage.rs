//! Commands for what was API-only: reading pressure reports (an IRO's own, NAIRO's shared
//! narratives), an adviser's availability, restoring an identity on a new device, and an
//! admin's (or NAIRO's) invitations and accounts.

use serde_json::json;

use super::api::Api;
use super::crypto::decrypt_armored;
use super::error::ClientError;
use super::output::Output;
use super::render::table;
use iro_advice_api::paths;
use iro_advice_api::{
    AccountSummary, AvailabilityRequest, InvitationCreated, InvitationRequest, ReportView,
};
use iro_advice_model::accounts::{AdviserKind, Email, Role};
use iro_advice_model::authorities::AuthorityCode;

/// `client pressure list` (an IRO's own reports) and `client narratives` (NAIRO: those
/// shared with it): the same route, each narrative decrypted here with the user's identity.
pub async fn reports(api: &Api) -> Result<Output, ClientError> {
    let list: Vec<ReportView> = api.get(paths::PRESSURE_REPORTS).await?;
    let identity = api.identity()?;
    let mut text = String::new();
    let mut shown = Vec::new();
    for r in &list {
        let narrative = r.narrative.as_ref().map(|armored| {
            decrypt_armored(armored, &identity)
                .map(|b| String::from_utf8_lossy(&b).into_owned())
                .unwrap_or_else(|e| format!("[cannot decrypt with this profile's identity: {e}]"))
        });
        text.push_str(&format!(
            "{}  {}  happened {}  {}{}\n",
            r.id,
            r.kind,
            r.occurred_on,
            super::render::authority_name(&r.authority_code),
            if r.shared_with_nairo {
                "  (shared with NAIRO)"
            } else {
                ""
            }
        ));
        if let Some(n) = &narrative {
            for line in n.lines() {
                text.push_str(&format!("    {line}\n"));
            }
        }
        shown.push(json!({
            "id": r.id, "kind": r.kind, "occurred_on": r.occurred_on,
            "authority_code": r.authority_code, "shared_with_nairo": r.shared_with_nairo,
            "created_at": r.created_at, "narrative": narrative,
        }));
    }
    if list.is_empty() {
        text.push_str("No pressure reports.");
    }
    Output::new(text, shown)
}

/// `client availability`: whether new queries may be routed to this adviser.
pub async fn availability(api: &Api, accepting: bool) -> Result<Output, ClientError> {
    // Remembered first, as conflicts are: the watch then knows the change as the user's own.
    api.profile().save_own_availability(accepting)?;
    api.put(paths::ME_AVAILABILITY, &AvailabilityRequest { accepting })
        .await?;
    let text = if accepting {
        "You are accepting new queries."
    } else {
        "You are not accepting new queries; IROs will not see you in their list until you are."
    };
    Output::new(text, json!({ "accepting": accepting }))
}

/// `client restore`: on a new device, the identity from its passphrase-wrapped copy on the
/// server (with a fresh second-factor code), written as this profile's identity file.
pub async fn restore(api: &Api, totp: &str, force: bool) -> Result<Output, ClientError> {
    let path = api.profile().identity_path();
    if path.exists() && !force {
        return Err(ClientError::Profile(format!(
            "{} already exists; add --force to replace it with the copy on the server",
            path.display()
        )));
    }
    let res = api
        .request(reqwest::Method::GET, paths::ME_KEY)
        .await?
        .header(iro_advice_api::headers::STEP_UP_CODE, totp.trim())
        .send()
        .await?;
    let wrapped: iro_advice_api::WrappedIdentity = super::api::check(res).await?.json().await?;
    let me: iro_advice_api::Me = api.get(paths::ME).await?;
    api.profile().ensure_dir()?;
    iro_advice_model::files::write_private(&path, wrapped.wrapped_identity.as_bytes())
        .map_err(|e| ClientError::io(&path, e))?;
    // Proves the passphrase now, and that the copy is the key the service holds.
    let identity = api.identity()?;
    let recipient = identity.to_public().to_string();
    if me.age_recipient.as_deref() != Some(recipient.as_str()) {
        return Err(ClientError::KeyRefused(
            "the restored identity is not the key the service holds for you: do not use it; \
             tell NAIRO"
                .into(),
        ));
    }
    api.profile().add_own_key(&recipient)?;
    Output::new(
        format!(
            "Restored your identity to {} (still protected by its passphrase).",
            path.display()
        ),
        json!({"identity": path, "age_recipient": recipient}),
    )
}

/// `client invite`: prints the code to pass on by another channel; the link goes by mail.
pub async fn invite(
    api: &Api,
    role: Role,
    email: &str,
    authority: Option<AuthorityCode>,
    adviser_kind: Option<AdviserKind>,
) -> Result<Output, ClientError> {
    let email = Email::parse(email).map_err(|e| ClientError::Profile(format!("--email {e}")))?;
    let created: InvitationCreated = api
        .post(
            paths::INVITATIONS,
            &InvitationRequest {
                role,
                email: email.clone(),
                authority_code: authority,
                adviser_kind,
                language: None,
            },
        )
        .await?;
    Output::new(
        format!(
            "Invited {} as {role}, until {}. A link has gone to that address; give them this \
             code another way (by phone or in person), never by email — the account needs \
             both, and it is shown only now:\n{}",
            email.as_str(),
            created.expires_at,
            created.code
        ),
        created,
    )
}

pub async fn accounts(api: &Api) -> Result<Output, ClientError> {
    let list: Vec<AccountSummary> = api.get(paths::ACCOUNTS).await?;
    let mut rows = vec![vec![
        "ID".into(),
        "ROLE".into(),
        "STATUS".into(),
        "EMAIL".into(),
        "NAME".into(),
        "AUTHORITY".into(),
        "COUNTED".into(),
    ]];
    for a in &list {
        rows.push(vec![
            a.id.to_string(),
            a.role.to_string(),
            a.status.to_string(),
            a.email.clone(),
            a.display_name.clone(),
            a.authority_code
                .as_deref()
                .map(super::render::authority_name)
                .unwrap_or_default(),
            match (a.role, a.approved_at) {
                (Role::Iro, Some(t)) => format!("from {}", t.format("%Y-%m-%d")),
                (Role::Iro, None) => "awaiting approval".into(),
                _ => String::new(),
            },
        ]);
    }
    Output::new(table(&rows), list)
}

/// `client suspend` / `client reactivate` / `client approve`.
pub async fn set_status(api: &Api, id: &str, action: &str) -> Result<Output, ClientError> {
    api.post_no_content(&format!("{}/{id}/{action}", paths::ACCOUNTS), &json!({}))
        .await?;
    let done = match action {
        "suspend" => "Suspended: the account and every session it had are refused from now on.",
        "approve" => "Approved: the IRO counts in the statistics from now on.",
        _ => "Reactivated: the account may sign in again.",
    };
    Output::new(done, json!({"id": id, "action": action}))
}

/// `client sessions`: the sign-ins the log holds for this account (found by the watch, which
/// reads every leaf, so the operator can neither erase one nor hide it), each matched with a
/// session that has not ended, or said to be ended or missing.
pub async fn sessions(api: &Api) -> Result<Output, ClientError> {
    let live: Vec<iro_advice_api::SessionEntry> = api.get(paths::ME_SESSIONS).await?;
    let mut found = api.profile().sign_ins()?;
    found.sort_by_key(|(_, at, _)| std::cmp::Reverse(*at));
    let mut text = String::from("Sign-ins the log holds for your account, newest first:\n");
    let mut rows = Vec::new();
    for (index, at, digest) in &found {
        let session = live.iter().find(|s| {
            iro_advice_model::hex(&iro_advice_model::leaf::session_digest(&s.id)) == *digest
        });
        let when = chrono::DateTime::from_timestamp(*at, 0)
            .map(|t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string())
            .unwrap_or_default();
        let state = match session {
            Some(s) if s.current => "this session".to_owned(),
            Some(s) => format!("a {} session, still open", s.client),
            None => "no session open now: ended, or removed from the service's database. \
                     If you did not sign in then, someone else did: tell NAIRO"
                .to_owned(),
        };
        text.push_str(&format!("  {when}  (leaf {index})  {state}\n"));
        rows.push(json!({"leaf_index": index, "at": at, "open": session.is_some()}));
    }
    if found.is_empty() {
        text.push_str(
            "  none yet (the log is read at every command; sign-ins are published \
                       with the log's next batch)\n",
        );
    }
    Output::new(text, json!({"sign_ins": rows, "sessions": live.len()}))
}
