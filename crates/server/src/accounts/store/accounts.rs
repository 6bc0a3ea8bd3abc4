//! The `accounts` table: creating, reading and changing an account, its key and its notices' address.

use chrono::NaiveDateTime;
use diesel::prelude::*;

use crate::db::schema::{accounts, sessions};
use crate::db::{now, DbConnection};
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
    pub approved_at: Option<NaiveDateTime>,
}

impl AuthAccount {
    pub fn has_second_factor(&self) -> bool {
        self.totp_enabled || self.passkey_enabled
    }

    /// False for a NAIRO nomination no admin has approved yet.
    pub fn approved(&self) -> bool {
        self.approved_at.is_some()
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

impl AccountView {
    /// Who this account is, as its key event commits to it and correspondents are shown.
    pub fn identity_claim(&self) -> iro_advice_api::IdentityClaim {
        let affiliation = match (self.adviser_kind, &self.authority_code) {
            (Some(kind), Some(code)) => format!("{kind} {}", code.as_str()),
            (Some(kind), None) => kind.to_string(),
            (None, Some(code)) => code.as_str().to_owned(),
            (None, None) => String::new(),
        };
        iro_advice_api::IdentityClaim {
            display_name: self.display_name.clone(),
            role: self.role.to_string(),
            affiliation,
            verified: self.verified_at.is_some(),
            sra_number: self.sra_number.clone(),
        }
    }
}

/// What correspondents are served beside these accounts' keys: who each is, as its key
/// event commits to it, and the previous key's signature on the current one, where there is
/// one.
pub fn directory_entries(
    conn: &mut DbConnection,
    ids: &[AccountId],
) -> QueryResult<
    std::collections::HashMap<
        AccountId,
        (
            iro_advice_api::IdentityClaim,
            Option<iro_advice_api::AuthorSignature>,
        ),
    >,
> {
    let rows: Vec<(AccountView, Option<i64>, Option<String>)> = accounts::table
        .filter(accounts::id.eq_any(ids))
        .select((
            AccountView::as_select(),
            accounts::key_handover_signed_at,
            accounts::key_handover_signature,
        ))
        .load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(a, at, sig)| {
            let handover =
                at.zip(sig)
                    .map(|(signed_at, signature)| iro_advice_api::AuthorSignature {
                        signed_at,
                        signature,
                    });
            (a.id.clone(), (a.identity_claim(), handover))
        })
        .collect())
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
        super::sessions::revoke_other_sessions(conn, id, None)?;
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

/// The previous key's signature on the current one, or none (set at every key change).
pub fn set_key_handover(
    conn: &mut DbConnection,
    id: &AccountId,
    handover: Option<&iro_advice_api::AuthorSignature>,
) -> QueryResult<()> {
    diesel::update(accounts::table.find(id))
        .set((
            accounts::key_handover_signed_at.eq(handover.map(|h| h.signed_at)),
            accounts::key_handover_signature.eq(handover.map(|h| h.signature.as_str())),
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

/// The private address an account gave for notices, if it gave one that is not the
/// address it signs in with.
pub fn private_notification_address(
    conn: &mut DbConnection,
    account: &AccountId,
) -> QueryResult<Option<(String, Language)>> {
    let (email, private, language): (String, Option<String>, Language) = accounts::table
        .find(account)
        .select((
            accounts::email,
            accounts::notification_email,
            accounts::language,
        ))
        .first(conn)?;
    Ok(private
        .filter(|p| !p.eq_ignore_ascii_case(&email))
        .map(|p| (p, language)))
}

/// How many key versions, changes of conflicts, sign-ins and changes of availability an
/// account has had: the tags of its leaves run from 1 to these.
pub fn directory_counts(
    conn: &mut DbConnection,
    id: &AccountId,
) -> QueryResult<(u64, u64, u64, u64)> {
    accounts::table
        .find(id)
        .select((
            accounts::key_version,
            accounts::conflicts_changes,
            accounts::sign_ins,
            accounts::availability_changes,
        ))
        .first::<(i64, i64, i64, i64)>(conn)
        .map(|(v, c, s, a)| {
            (
                v.max(0) as u64,
                c.max(0) as u64,
                s.max(0) as u64,
                a.max(0) as u64,
            )
        })
}

/// Counts one more sign-in of the account and returns its number (from 1): the tag of its
/// leaf, by which the owner's client finds every one.
pub fn count_sign_in(conn: &mut DbConnection, id: &AccountId) -> QueryResult<u64> {
    diesel::update(accounts::table.find(id))
        .set(accounts::sign_ins.eq(accounts::sign_ins + 1))
        .execute(conn)?;
    accounts::table
        .find(id)
        .select(accounts::sign_ins)
        .first::<i64>(conn)
        .map(|n| n.max(0) as u64)
}
