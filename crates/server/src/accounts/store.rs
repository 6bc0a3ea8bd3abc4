//! Data access for accounts, sessions, TOTP state and login throttling.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::browser::SessionClient;
use crate::db::schema::{
    accounts, adviser_conflicts, login_devices, login_failures, passkeys, refresh_tokens, sessions,
    spent_challenges,
};
use crate::db::{now, DbConnection};
use crate::keys::{random_token, token_hash};
use iro_advice_model::accounts::{AccountId, AccountStatus, AdviserKind, Language, Role};
use iro_advice_model::authorities::AuthorityCode;

pub struct NewAccount<'a> {
    pub id: &'a AccountId,
    pub role: Role,
    pub email: &'a str,
    pub display_name: &'a str,
    pub password_hash: &'a str,
    pub authority_code: Option<&'a str>,
    pub adviser_kind: Option<AdviserKind>,
    pub notification_email: Option<&'a str>,
    /// Counted in the statistics from its creation; false for a NAIRO nomination, which
    /// waits for an admin.
    pub approved: bool,
    pub language: Language,
}

pub fn insert_account(conn: &mut DbConnection, a: &NewAccount<'_>) -> QueryResult<()> {
    let created = now();
    diesel::insert_into(accounts::table)
        .values((
            accounts::id.eq(a.id),
            accounts::role.eq(a.role.as_str()),
            accounts::email.eq(a.email),
            accounts::display_name.eq(a.display_name),
            accounts::password_hash.eq(a.password_hash),
            accounts::authority_code.eq(a.authority_code),
            accounts::adviser_kind.eq(a.adviser_kind.map(AdviserKind::as_str)),
            accounts::status.eq(AccountStatus::Active.as_str()),
            accounts::accepting.eq(true),
            accounts::notification_email.eq(a.notification_email),
            accounts::totp_enabled.eq(false),
            accounts::totp_last_step.eq(0i64),
            accounts::created_at.eq(created),
            accounts::approved_at.eq(a.approved.then_some(created)),
            accounts::language.eq(a.language),
        ))
        .execute(conn)
        .map(drop)
}

pub fn email_exists(conn: &mut DbConnection, email: &str) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        accounts::table.filter(accounts::email.eq(email)),
    ))
    .get_result(conn)
}

/// What a request needs to know about its caller.
#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct AuthAccount {
    pub id: AccountId,
    pub role: Role,
    #[diesel(column_name = authority_code)]
    pub authority: Option<AuthorityCode>,
    pub adviser_kind: Option<AdviserKind>,
    pub totp_enabled: bool,
    pub passkey_enabled: bool,
}

impl AuthAccount {
    pub fn has_second_factor(&self) -> bool {
        self.totp_enabled || self.passkey_enabled
    }
}

/// The account, if it is active and the session is alive.
pub fn active_account_in_session(
    conn: &mut DbConnection,
    account_id: &AccountId,
    session_id: &str,
    started_after: NaiveDateTime,
) -> QueryResult<Option<AuthAccount>> {
    accounts::table
        .inner_join(sessions::table)
        .filter(accounts::id.eq(account_id))
        .filter(accounts::status.eq(AccountStatus::Active))
        .filter(sessions::id.eq(session_id))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::created_at.gt(started_after))
        .select(AuthAccount::as_select())
        .first(conn)
        .optional()
}

/// What a login attempt needs.
#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct LoginAccount {
    pub id: AccountId,
    pub role: Role,
    pub password_hash: String,
    pub status: AccountStatus,
    pub totp_enabled: bool,
    pub totp_secret: Option<Vec<u8>>,
    pub totp_last_step: i64,
    pub passkey_enabled: bool,
}

impl LoginAccount {
    pub fn active(&self) -> bool {
        self.status == AccountStatus::Active
    }

    pub fn has_second_factor(&self) -> bool {
        self.totp_enabled || self.passkey_enabled
    }

    /// The sealed TOTP secret, once its enrolment is confirmed: before, it is no factor.
    pub fn enabled_totp_secret(&self) -> Option<&[u8]> {
        self.totp_secret.as_deref().filter(|_| self.totp_enabled)
    }
}

pub fn login_account(conn: &mut DbConnection, email: &str) -> QueryResult<Option<LoginAccount>> {
    accounts::table
        .filter(accounts::email.eq(email))
        .select(LoginAccount::as_select())
        .first(conn)
        .optional()
}

/// One account as its owner or an admin sees it.
#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct AccountView {
    pub id: AccountId,
    pub role: Role,
    pub email: String,
    pub display_name: String,
    pub authority_code: Option<AuthorityCode>,
    pub adviser_kind: Option<AdviserKind>,
    pub status: AccountStatus,
    pub accepting: bool,
    pub age_recipient: Option<String>,
    pub totp_enabled: bool,
    pub passkey_enabled: bool,
    pub approved_at: Option<NaiveDateTime>,
    pub language: Language,
    pub sra_number: Option<String>,
    pub verified_at: Option<NaiveDateTime>,
    pub verified_by: Option<AccountId>,
}

pub fn account(conn: &mut DbConnection, id: &AccountId) -> QueryResult<Option<AccountView>> {
    accounts::table
        .find(id)
        .select(AccountView::as_select())
        .first(conn)
        .optional()
}

pub fn all_accounts(conn: &mut DbConnection) -> QueryResult<Vec<AccountView>> {
    accounts::table
        .order((accounts::role, accounts::email))
        .select(AccountView::as_select())
        .load(conn)
}

/// Approves a NAIRO nomination: the account counts in the statistics from now. False if it
/// was approved already (or never waited).
pub fn approve(conn: &mut DbConnection, id: &AccountId, by: &AccountId) -> QueryResult<bool> {
    let updated = diesel::update(
        accounts::table
            .find(id)
            .filter(accounts::approved_at.is_null()),
    )
    .set((
        accounts::approved_at.eq(now()),
        accounts::approved_by.eq(by),
    ))
    .execute(conn)?;
    Ok(updated > 0)
}

/// Records that an admin checked an adviser (a solicitor's SRA number against the register,
/// a peer adviser's post with their authority): by whom, when, and the number read.
pub fn verify_adviser(
    conn: &mut DbConnection,
    id: &AccountId,
    sra_number: Option<&str>,
    by: &AccountId,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::sra_number.eq(sra_number),
            accounts::verified_at.eq(now()),
            accounts::verified_by.eq(by),
        ))
        .execute(conn)
        .map(drop)
}

pub fn set_language(
    conn: &mut DbConnection,
    id: &AccountId,
    language: Language,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set(accounts::language.eq(language))
        .execute(conn)
        .map(drop)
}

/// Sets an account's status; suspending also ends every session. False if no such account.
pub fn set_status(
    conn: &mut DbConnection,
    id: &AccountId,
    status: AccountStatus,
) -> QueryResult<bool> {
    let updated = diesel::update(accounts::table.find(id))
        .set(accounts::status.eq(status.as_str()))
        .execute(conn)?;
    if updated > 0 && status == AccountStatus::Suspended {
        revoke_other_sessions(conn, id, None)?;
    }
    Ok(updated > 0)
}

/// The stored password hash and login email of an account, for a change of password.
pub fn password_of(conn: &mut DbConnection, id: &AccountId) -> QueryResult<(String, String)> {
    accounts::table
        .find(id)
        .select((accounts::password_hash, accounts::email))
        .first(conn)
}

pub fn set_password_hash(conn: &mut DbConnection, id: &AccountId, hash: &str) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set(accounts::password_hash.eq(hash))
        .execute(conn)
        .map(drop)
}

/// Ends every session of the account but `keep` (the one making a change to its security).
pub fn revoke_other_sessions(
    conn: &mut DbConnection,
    id: &AccountId,
    keep: Option<&str>,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::account_id.eq(id))
            .filter(sessions::id.ne(keep.unwrap_or("")))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now()))
    .execute(conn)
}

pub fn set_key(
    conn: &mut DbConnection,
    id: &AccountId,
    recipient: &str,
    wrapped_identity: Option<&str>,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::age_recipient.eq(recipient),
            accounts::wrapped_identity.eq(wrapped_identity),
        ))
        .execute(conn)
        .map(drop)
}

/// An account's current recipient and key version.
pub fn key_state(conn: &mut DbConnection, id: &AccountId) -> QueryResult<(Option<String>, u64)> {
    accounts::table
        .find(id)
        .select((accounts::age_recipient, accounts::key_version))
        .first::<(Option<String>, i64)>(conn)
        .map(|(r, v)| (r, v as u64))
}

/// Where the account's current key event is, and its version.
pub fn set_key_event(
    conn: &mut DbConnection,
    id: &AccountId,
    version: u64,
    leaf: u64,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::key_version.eq(version as i64),
            accounts::key_leaf.eq(Some(leaf as i64)),
        ))
        .execute(conn)
        .map(drop)
}

/// The leaf of each account's current key event, for those that have one.
pub fn key_leaves(
    conn: &mut DbConnection,
    ids: &[AccountId],
) -> QueryResult<std::collections::HashMap<AccountId, u64>> {
    let rows: Vec<(AccountId, Option<i64>)> = accounts::table
        .filter(accounts::id.eq_any(ids))
        .select((accounts::id, accounts::key_leaf))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .filter_map(|(id, leaf)| leaf.map(|l| (id, l as u64)))
        .collect())
}

pub fn wrapped_identity(conn: &mut DbConnection, id: &AccountId) -> QueryResult<Option<String>> {
    accounts::table
        .find(id)
        .select(accounts::wrapped_identity)
        .first(conn)
}

pub fn set_accepting(conn: &mut DbConnection, id: &AccountId, accepting: bool) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set(accounts::accepting.eq(accepting))
        .execute(conn)
        .map(drop)
}

/// Replaces an adviser's declared conflicts; call inside a write transaction.
pub fn set_conflicts(
    conn: &mut DbConnection,
    adviser_id: &AccountId,
    codes: &[AuthorityCode],
) -> QueryResult<()> {
    diesel::delete(adviser_conflicts::table.filter(adviser_conflicts::adviser_id.eq(adviser_id)))
        .execute(conn)?;
    // One row at a time: diesel's MultiConnection has no batch insert.
    for code in codes {
        diesel::insert_into(adviser_conflicts::table)
            .values((
                adviser_conflicts::adviser_id.eq(adviser_id),
                adviser_conflicts::authority_code.eq(code.as_str()),
            ))
            .execute(conn)?;
    }
    Ok(())
}

pub fn conflicts(conn: &mut DbConnection, adviser_id: &AccountId) -> QueryResult<Vec<String>> {
    adviser_conflicts::table
        .filter(adviser_conflicts::adviser_id.eq(adviser_id))
        .select(adviser_conflicts::authority_code)
        .order(adviser_conflicts::authority_code)
        .load(conn)
}

/// An adviser an IRO may ask.
pub struct EligibleAdviser {
    pub id: AccountId,
    pub display_name: String,
    pub kind: AdviserKind,
    pub age_recipient: String,
    pub verified: bool,
}

#[derive(Queryable)]
struct AdviserRow {
    id: AccountId,
    display_name: String,
    adviser_kind: Option<AdviserKind>,
    age_recipient: Option<String>,
    verified_at: Option<NaiveDateTime>,
}

fn corrupt(what: &str) -> diesel::result::Error {
    diesel::result::Error::DeserializationError(what.to_owned().into())
}

/// Advisers who are active, accepting, have a key, and are not conflicted with the
/// authority: neither by declaration nor by being employed there (peer advisers).
pub fn eligible_advisers(
    conn: &mut DbConnection,
    authority: &AuthorityCode,
    only: Option<&AccountId>,
) -> QueryResult<Vec<EligibleAdviser>> {
    let declared = adviser_conflicts::table
        .filter(adviser_conflicts::authority_code.eq(authority.as_str()))
        .select(adviser_conflicts::adviser_id);
    let mut query = accounts::table
        .filter(accounts::role.eq(Role::Adviser.as_str()))
        .filter(accounts::status.eq(AccountStatus::Active.as_str()))
        .filter(accounts::accepting.eq(true))
        .filter(accounts::age_recipient.is_not_null())
        .filter(
            accounts::authority_code
                .is_null()
                .or(accounts::authority_code.ne(authority.as_str())),
        )
        .filter(accounts::id.ne_all(declared))
        .order((accounts::display_name, accounts::id))
        .select((
            accounts::id,
            accounts::display_name,
            accounts::adviser_kind,
            accounts::age_recipient,
            accounts::verified_at,
        ))
        .into_boxed();
    if let Some(id) = only {
        query = query.filter(accounts::id.eq(id.to_owned()));
    }
    query
        .load::<AdviserRow>(conn)?
        .into_iter()
        .map(|row| {
            Ok(EligibleAdviser {
                id: row.id,
                // Every adviser account is created with a kind; the filters above leave only
                // advisers with a key.
                kind: row
                    .adviser_kind
                    .ok_or_else(|| corrupt("an adviser without a kind"))?,
                display_name: row.display_name,
                age_recipient: row.age_recipient.unwrap_or_default(),
                verified: row.verified_at.is_some(),
            })
        })
        .collect()
}

// --- TOTP state ---

/// An account's TOTP secret (sealed), whether it is enabled, and the last step used.
#[derive(Queryable, Selectable)]
#[diesel(table_name = accounts)]
pub struct TotpState {
    pub totp_secret: Option<Vec<u8>>,
    pub totp_enabled: bool,
    pub totp_last_step: i64,
    pub passkey_enabled: bool,
}

impl TotpState {
    pub fn has_second_factor(&self) -> bool {
        self.totp_enabled || self.passkey_enabled
    }
}

pub fn totp_state(conn: &mut DbConnection, id: &AccountId) -> QueryResult<TotpState> {
    accounts::table
        .find(id)
        .select(TotpState::as_select())
        .first(conn)
}

pub fn store_pending_totp(
    conn: &mut DbConnection,
    id: &AccountId,
    sealed: &[u8],
) -> QueryResult<()> {
    diesel::update(
        accounts::table
            .find(id)
            .filter(accounts::totp_enabled.eq(false)),
    )
    .set(accounts::totp_secret.eq(sealed))
    .execute(conn)
    .map(drop)
}

/// Records that a code of `step` was used, enabling TOTP if `enable`. Conditional on the
/// stored step being older, so two instances cannot both accept one code.
pub fn use_totp_step(
    conn: &mut DbConnection,
    id: &AccountId,
    step: i64,
    enable: bool,
) -> QueryResult<bool> {
    let target = accounts::table
        .find(id)
        .filter(accounts::totp_last_step.lt(step));
    let updated = if enable {
        diesel::update(target)
            .set((
                accounts::totp_last_step.eq(step),
                accounts::totp_enabled.eq(true),
            ))
            .execute(conn)?
    } else {
        diesel::update(target)
            .set(accounts::totp_last_step.eq(step))
            .execute(conn)?
    };
    Ok(updated == 1)
}

// --- passkeys ---

#[derive(Queryable, Selectable)]
#[diesel(table_name = passkeys)]
pub struct StoredPasskey {
    pub credential_id: String,
    pub account_id: AccountId,
    pub algorithm: i32,
    pub public_key: Vec<u8>,
    pub sign_count: i64,
    pub name: String,
    pub created_at: NaiveDateTime,
    pub last_used_at: Option<NaiveDateTime>,
}

pub fn passkeys_of(conn: &mut DbConnection, id: &AccountId) -> QueryResult<Vec<StoredPasskey>> {
    passkeys::table
        .filter(passkeys::account_id.eq(id))
        .order(passkeys::created_at)
        .select(StoredPasskey::as_select())
        .load(conn)
}

pub fn passkey(conn: &mut DbConnection, credential_id: &str) -> QueryResult<Option<StoredPasskey>> {
    passkeys::table
        .find(credential_id)
        .select(StoredPasskey::as_select())
        .first(conn)
        .optional()
}

pub struct NewPasskey<'a> {
    pub credential_id: &'a str,
    pub algorithm: i32,
    pub public_key: &'a [u8],
    pub sign_count: u32,
    pub name: &'a str,
}

/// Adds a passkey and marks the account as having one; call in a write transaction.
pub fn add_passkey(
    conn: &mut DbConnection,
    id: &AccountId,
    key: &NewPasskey<'_>,
) -> QueryResult<()> {
    diesel::insert_into(passkeys::table)
        .values((
            passkeys::credential_id.eq(key.credential_id),
            passkeys::account_id.eq(id),
            passkeys::algorithm.eq(key.algorithm),
            passkeys::public_key.eq(key.public_key),
            passkeys::sign_count.eq(i64::from(key.sign_count)),
            passkeys::name.eq(key.name),
            passkeys::created_at.eq(now()),
        ))
        .execute(conn)?;
    diesel::update(accounts::table.find(id))
        .set(accounts::passkey_enabled.eq(true))
        .execute(conn)
        .map(drop)
}

/// Removes one of the account's passkeys, and marks whether it has any left; false when it
/// has no such passkey. Call in a write transaction.
pub fn remove_passkey(
    conn: &mut DbConnection,
    id: &AccountId,
    credential_id: &str,
) -> QueryResult<bool> {
    let removed = diesel::delete(
        passkeys::table
            .find(credential_id)
            .filter(passkeys::account_id.eq(id)),
    )
    .execute(conn)?;
    let left = passkeys::table
        .filter(passkeys::account_id.eq(id))
        .count()
        .get_result::<i64>(conn)?;
    diesel::update(accounts::table.find(id))
        .set(accounts::passkey_enabled.eq(left > 0))
        .execute(conn)?;
    Ok(removed == 1)
}

/// Turns TOTP off and forgets its secret.
pub fn disable_totp(conn: &mut DbConnection, id: &AccountId) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::totp_enabled.eq(false),
            accounts::totp_secret.eq(None::<Vec<u8>>),
        ))
        .execute(conn)
        .map(drop)
}

/// Records a use. Conditional on the counter it was checked against, so two instances
/// cannot both accept assertions with one counter value.
pub fn passkey_used(
    conn: &mut DbConnection,
    credential_id: &str,
    checked_against: i64,
    sign_count: u32,
) -> QueryResult<bool> {
    diesel::update(
        passkeys::table
            .find(credential_id)
            .filter(passkeys::sign_count.eq(checked_against)),
    )
    .set((
        passkeys::sign_count.eq(i64::from(sign_count)),
        passkeys::last_used_at.eq(now()),
    ))
    .execute(conn)
    .map(|n| n == 1)
}

/// Marks a challenge as used; false when it was used before. Expired ones are forgotten,
/// since their seal refuses them anyway.
pub fn spend_challenge(
    conn: &mut DbConnection,
    digest: &str,
    expires_at: NaiveDateTime,
) -> QueryResult<bool> {
    diesel::delete(spent_challenges::table.filter(spent_challenges::expires_at.lt(now())))
        .execute(conn)?;
    let spent = spent_challenges::table
        .find(digest)
        .count()
        .get_result::<i64>(conn)?;
    if spent > 0 {
        return Ok(false);
    }
    // A concurrent spender on another instance loses on the key, inside a savepoint so
    // that the surrounding transaction can still record the refusal.
    let inserted = conn.transaction(|conn| {
        diesel::insert_into(spent_challenges::table)
            .values((
                spent_challenges::digest.eq(digest),
                spent_challenges::expires_at.eq(expires_at),
            ))
            .execute(conn)
    });
    match inserted {
        Ok(_) => Ok(true),
        Err(diesel::result::Error::DatabaseError(
            diesel::result::DatabaseErrorKind::UniqueViolation,
            _,
        )) => Ok(false),
        Err(e) => Err(e),
    }
}

// --- sessions and refresh tokens ---

pub struct IssuedSession {
    pub session_id: String,
    pub refresh_token: String,
}

pub fn create_session(
    conn: &mut DbConnection,
    account_id: &AccountId,
    client: SessionClient,
    refresh_days: i64,
) -> QueryResult<IssuedSession> {
    let session_id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(sessions::table)
        .values((
            sessions::id.eq(&session_id),
            sessions::account_id.eq(account_id),
            sessions::created_at.eq(now()),
            sessions::client.eq(client.as_str()),
        ))
        .execute(conn)?;
    let refresh_token = insert_refresh_token(conn, &session_id, refresh_days)?;
    Ok(IssuedSession {
        session_id,
        refresh_token,
    })
}

fn insert_refresh_token(
    conn: &mut DbConnection,
    session_id: &str,
    refresh_days: i64,
) -> QueryResult<String> {
    let token = random_token();
    let now = now();
    diesel::insert_into(refresh_tokens::table)
        .values((
            refresh_tokens::token_hash.eq(token_hash(&token)),
            refresh_tokens::session_id.eq(session_id),
            refresh_tokens::created_at.eq(now),
            refresh_tokens::expires_at.eq(now + Duration::days(refresh_days)),
        ))
        .execute(conn)?;
    Ok(token)
}

pub enum Rotation {
    /// A new refresh token for the same session, and who it is for.
    Rotated {
        account_id: AccountId,
        role: Role,
        session_id: String,
        refresh_token: String,
    },
    /// Unknown, expired, revoked, or the account is not active.
    Refused,
    /// The token had been used already: the whole family is now revoked.
    ReuseDetected,
}

/// A refresh token with its session and account, in the order the query selects them.
#[derive(Queryable)]
struct RefreshRow {
    session_id: String,
    expires_at: NaiveDateTime,
    used_at: Option<NaiveDateTime>,
    revoked_at: Option<NaiveDateTime>,
    session_started: NaiveDateTime,
    account_id: AccountId,
    role: Role,
    status: AccountStatus,
}

/// Exchanges a refresh token for a new one; call inside a write transaction.
pub fn rotate_refresh_token(
    conn: &mut DbConnection,
    token: &str,
    refresh_days: i64,
    session_hours: i64,
) -> QueryResult<Rotation> {
    let hash = token_hash(token);
    let found = refresh_tokens::table
        .inner_join(sessions::table.inner_join(accounts::table))
        .filter(refresh_tokens::token_hash.eq(&hash))
        .select((
            refresh_tokens::session_id,
            refresh_tokens::expires_at,
            refresh_tokens::used_at,
            sessions::revoked_at,
            sessions::created_at,
            accounts::id,
            accounts::role,
            accounts::status,
        ))
        .first::<RefreshRow>(conn)
        .optional()?;
    let Some(RefreshRow {
        session_id,
        expires_at,
        used_at,
        revoked_at,
        session_started,
        account_id,
        role,
        status,
    }) = found
    else {
        return Ok(Rotation::Refused);
    };
    if revoked_at.is_some() {
        return Ok(Rotation::Refused);
    }
    // Marking the token used is conditional, so of two concurrent uses only one rotates and
    // the other is treated as the reuse it is.
    let marked = diesel::update(
        refresh_tokens::table
            .find(&hash)
            .filter(refresh_tokens::used_at.is_null()),
    )
    .set(refresh_tokens::used_at.eq(now()))
    .execute(conn)?;
    if used_at.is_some() || marked == 0 {
        revoke_session(conn, &session_id)?;
        return Ok(Rotation::ReuseDetected);
    }
    let session_ends = session_started + chrono::Duration::hours(session_hours);
    if expires_at <= now() || session_ends <= now() || status != AccountStatus::Active {
        return Ok(Rotation::Refused);
    }
    diesel::update(sessions::table.find(&session_id))
        .set(sessions::last_active_at.eq(now()))
        .execute(conn)?;
    let refresh_token = insert_refresh_token(conn, &session_id, refresh_days)?;
    Ok(Rotation::Rotated {
        account_id,
        role,
        session_id,
        refresh_token,
    })
}

pub fn revoke_session(conn: &mut DbConnection, session_id: &str) -> QueryResult<()> {
    diesel::update(
        sessions::table
            .find(session_id)
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now()))
    .execute(conn)
    .map(drop)
}

/// A session of one account that has not ended.
#[derive(Queryable)]
pub struct LiveSession {
    pub id: String,
    pub client: String,
    pub created_at: NaiveDateTime,
    pub last_active_at: Option<NaiveDateTime>,
}

/// The account's sessions that are neither revoked nor older than `started_after`, newest
/// first.
pub fn live_sessions(
    conn: &mut DbConnection,
    account: &AccountId,
    started_after: NaiveDateTime,
) -> QueryResult<Vec<LiveSession>> {
    sessions::table
        .filter(sessions::account_id.eq(account))
        .filter(sessions::revoked_at.is_null())
        .filter(sessions::created_at.gt(started_after))
        .order((sessions::created_at.desc(), sessions::id))
        .select((
            sessions::id,
            sessions::client,
            sessions::created_at,
            sessions::last_active_at,
        ))
        .load(conn)
}

/// Ends one of the account's own sessions; how many ended (0: none of its live ones).
pub fn revoke_own_session(
    conn: &mut DbConnection,
    account: &AccountId,
    session_id: &str,
) -> QueryResult<usize> {
    diesel::update(
        sessions::table
            .filter(sessions::id.eq(session_id))
            .filter(sessions::account_id.eq(account))
            .filter(sessions::revoked_at.is_null()),
    )
    .set(sessions::revoked_at.eq(now()))
    .execute(conn)
}

/// Ends the session a refresh token (current or already rotated) belongs to.
pub fn revoke_session_of_token(conn: &mut DbConnection, token: &str) -> QueryResult<()> {
    let session: Option<String> = refresh_tokens::table
        .find(token_hash(token))
        .select(refresh_tokens::session_id)
        .first(conn)
        .optional()?;
    match session {
        Some(id) => revoke_session(conn, &id),
        None => Ok(()),
    }
}

// --- login throttling ---

/// How many failed logins there were for one subject in a window, and the oldest of them.
#[derive(Queryable)]
pub struct RecentFailures {
    pub count: i64,
    pub oldest: Option<NaiveDateTime>,
}

/// Failures for `subject` since `since`, and the oldest of them.
pub fn recent_failures(
    conn: &mut DbConnection,
    subject: &str,
    since: NaiveDateTime,
) -> QueryResult<RecentFailures> {
    login_failures::table
        .filter(login_failures::subject.eq(subject))
        .filter(login_failures::failed_at.gt(since))
        .select((
            diesel::dsl::count_star(),
            diesel::dsl::min(login_failures::failed_at),
        ))
        .first(conn)
}

pub fn record_failure(conn: &mut DbConnection, subject: &str) -> QueryResult<()> {
    diesel::insert_into(login_failures::table)
        .values((
            login_failures::subject.eq(subject),
            login_failures::failed_at.eq(now()),
        ))
        .execute(conn)
        .map(drop)
}

/// Forgets a subject's failures after a success, and everyone's once they are too old to
/// matter.
pub fn clear_failures(
    conn: &mut DbConnection,
    subject: &str,
    older_than: NaiveDateTime,
) -> QueryResult<()> {
    diesel::delete(
        login_failures::table.filter(
            login_failures::subject
                .eq(subject)
                .or(login_failures::failed_at.lt(older_than)),
        ),
    )
    .execute(conn)
    .map(drop)
}

/// Failures of every subject since `since`: the service-wide ceiling's measure.
pub fn failures_since(conn: &mut DbConnection, since: NaiveDateTime) -> QueryResult<i64> {
    login_failures::table
        .filter(login_failures::failed_at.gt(since))
        .count()
        .get_result(conn)
}

/// Whether `token_hash` is a device token this account was given.
pub fn device_belongs(
    conn: &mut DbConnection,
    token_hash: &str,
    account: &AccountId,
) -> QueryResult<bool> {
    diesel::select(diesel::dsl::exists(
        login_devices::table
            .filter(login_devices::token_hash.eq(token_hash))
            .filter(login_devices::account_id.eq(account)),
    ))
    .get_result(conn)
}

/// After a successful sign-in: notes the use of the device token the client presented when
/// it is this account's, else gives the client a new one (returned once, stored hashed).
pub fn remember_device(
    conn: &mut DbConnection,
    account: &AccountId,
    presented: Option<&str>,
) -> QueryResult<Option<String>> {
    if let Some(hash) = presented {
        let known = diesel::update(
            login_devices::table
                .filter(login_devices::token_hash.eq(hash))
                .filter(login_devices::account_id.eq(account)),
        )
        .set(login_devices::last_used_at.eq(now()))
        .execute(conn)?;
        if known == 1 {
            return Ok(None);
        }
    }
    let token = random_token();
    diesel::insert_into(login_devices::table)
        .values((
            login_devices::token_hash.eq(token_hash(&token)),
            login_devices::account_id.eq(account),
            login_devices::created_at.eq(now()),
            login_devices::last_used_at.eq(now()),
        ))
        .execute(conn)?;
    Ok(Some(token))
}

/// Counts a failed sign-in against the account; returns how many since its last success.
pub fn note_failed_sign_in(conn: &mut DbConnection, account: &AccountId) -> QueryResult<i32> {
    diesel::update(accounts::table.find(account))
        .set(accounts::failed_sign_ins.eq(accounts::failed_sign_ins + 1))
        .execute(conn)?;
    accounts::table
        .find(account)
        .select(accounts::failed_sign_ins)
        .first(conn)
}

/// The failed sign-ins since the last success, which this success now reports and clears.
pub fn take_failed_sign_ins(conn: &mut DbConnection, account: &AccountId) -> QueryResult<i32> {
    let failed = accounts::table
        .find(account)
        .select(accounts::failed_sign_ins)
        .first(conn)?;
    if failed > 0 {
        diesel::update(accounts::table.find(account))
            .set(accounts::failed_sign_ins.eq(0))
            .execute(conn)?;
    }
    Ok(failed)
}

/// Where notifications for an account go (its notification address, else its login email),
/// and in which language.
pub fn notification_address(
    conn: &mut DbConnection,
    account: &AccountId,
) -> QueryResult<(String, Language)> {
    #[derive(Queryable, Selectable)]
    #[diesel(table_name = accounts)]
    struct Addresses {
        email: String,
        notification_email: Option<String>,
        language: Language,
    }
    let addresses = accounts::table
        .find(account)
        .select(Addresses::as_select())
        .first(conn)?;
    Ok((
        addresses.notification_email.unwrap_or(addresses.email),
        addresses.language,
    ))
}
