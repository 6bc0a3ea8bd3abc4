//! Invitations (made by an admin, by NAIRO for an IRO, or by the operator at the console)
//! and turning one into an account.
//!
//! An invitation has two halves, both needed: a token in the link mailed to the invitee, and
//! a short code shown once to the inviter, who passes it on by another channel. The
//! invitee's mail is often their employer's server, which can read the link but not the
//! code. Both are single-use, expire, and are stored only as hashes; a few wrong codes void
//! the invitation, so the link's reader cannot guess the code either.

use chrono::{Duration, NaiveDateTime};
use diesel::prelude::*;

use super::caller::Caller;
use super::error::AccountError;
use super::state::Accounts;
use super::store;
use crate::db::schema::invitations;
use crate::db::{write_transaction, DbConnection};
use crate::keys::{random_token, token_hash};
use crate::log::{Actor, Event, Kind, Receipt, Subject};
use crate::mail;
use crate::tx::{Storage, Tx, WriteContext};
use iro_advice_model::accounts::{
    AccountId, AdviserKind, DisplayName, Email, Language, Password, Role,
};
use iro_advice_model::authorities::AuthorityCode;

/// Who is invited, checked as a whole: every role gets exactly the attributes it needs.
#[derive(Debug, Clone)]
pub struct Invitee {
    pub role: Role,
    pub email: Email,
    pub authority: Option<AuthorityCode>,
    pub adviser_kind: Option<AdviserKind>,
    /// The language the invitation's mail is written in, and the account's until its owner
    /// chooses.
    pub language: Language,
}

impl Invitee {
    pub fn new(
        role: Role,
        email: Email,
        authority: Option<AuthorityCode>,
        adviser_kind: Option<AdviserKind>,
    ) -> Result<Self, String> {
        match (role, adviser_kind, &authority) {
            (Role::Iro, None, Some(_)) => {}
            (Role::Iro, _, None) => {
                return Err("an IRO needs the authority_code of their employer".into())
            }
            (Role::Adviser, None, _) => {
                return Err("an adviser needs adviser_kind: solicitor or peer".into())
            }
            (Role::Adviser, Some(AdviserKind::Peer), None) => {
                return Err("a peer adviser needs the authority_code of their employer".into())
            }
            (Role::Adviser, Some(AdviserKind::Solicitor), Some(_)) => {
                return Err(
                    "a solicitor has no employing authority; declare conflicts instead".into(),
                )
            }
            (Role::Adviser, Some(_), _) => {}
            (_, Some(_), _) => return Err("only advisers have an adviser_kind".into()),
            (Role::Nairo | Role::Admin, None, Some(_)) => {
                return Err(format!("a {role} account has no authority_code"))
            }
            (Role::Nairo | Role::Admin, None, None) => {}
        }
        Ok(Invitee {
            role,
            email,
            authority,
            adviser_kind,
            language: Language::En,
        })
    }
}

pub struct CreatedInvitation {
    /// The link's half, which only the invitee's mail carries.
    pub token: String,
    /// The inviter's half.
    pub code: InvitationCode,
    pub expires_at: NaiveDateTime,
}

impl CreatedInvitation {
    /// Both halves in one string, for the operator's own console, which is its own channel.
    pub fn whole(&self) -> String {
        format!("{}.{}", self.token, self.code.as_str())
    }
}

/// Wrong codes after which an invitation is void.
const CODE_ATTEMPTS: i32 = 5;

/// The inviter's half: ten Crockford base32 characters (50 bits), shown as `XXXXX-XXXXX`,
/// easy to read out over the phone; typed in any case, with or without the dash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvitationCode(String);

const CROCKFORD: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";

impl InvitationCode {
    pub fn generate() -> Self {
        let bytes = crate::keys::random_bytes::<10>();
        let chars: String = bytes
            .iter()
            .map(|b| CROCKFORD[usize::from(b & 31)] as char)
            .collect();
        InvitationCode(format!("{}-{}", &chars[..5], &chars[5..]))
    }

    /// Reads a code as a person may type it: case, spaces and dashes do not matter, and the
    /// letters Crockford's alphabet leaves out are read as the digits they look like.
    pub fn parse(raw: &str) -> Option<Self> {
        let chars: String = raw
            .chars()
            .filter(|c| !matches!(c, '-' | ' '))
            .map(|c| match c.to_ascii_uppercase() {
                'O' => '0',
                'I' | 'L' => '1',
                other => other,
            })
            .collect();
        if chars.len() != 10 || !chars.bytes().all(|b| CROCKFORD.contains(&b)) {
            return None;
        }
        Some(InvitationCode(format!("{}-{}", &chars[..5], &chars[5..])))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    fn hash(&self) -> String {
        token_hash(&self.0)
    }
}

#[derive(Debug, thiserror::Error)]
pub enum InvitationError {
    #[error(transparent)]
    Database(#[from] diesel::result::Error),
    #[error(transparent)]
    Log(#[from] crate::log::LogError),
}

impl From<InvitationError> for AccountError {
    fn from(e: InvitationError) -> Self {
        match e {
            InvitationError::Database(d) => d.into(),
            InvitationError::Log(l) => l.into(),
        }
    }
}

/// Who makes an invitation.
#[derive(Clone, Copy)]
pub enum Inviter<'a> {
    /// An admin, through the API: the invitation's email goes out with the act.
    Admin(&'a AccountId),
    /// A NAIRO reviewer, through the API: a nomination. The account it makes works at once,
    /// but counts in the statistics only from when an admin approves it (see
    /// [`super::admin::approve`]).
    Nairo(&'a AccountId),
    /// The operator at the service's own console, who passes the token on themselves.
    Operator,
}

/// Creates an invitation, its leaf, and (for an account's) its email in the outbox, all in
/// the caller's transaction.
///
/// An email that already has an account gets an invitation and a leaf all the same, which
/// can never become an account, and no mail: the inviter's answer and the public log are the
/// same either way, so inviting is no way to learn who has an account.
pub fn create(
    tx: &mut Tx<'_>,
    invitee: &Invitee,
    inviter: Inviter<'_>,
    valid_days: i64,
) -> Result<CreatedInvitation, InvitationError> {
    let has_account = store::email_exists(tx.conn, invitee.email.as_str())?;
    let token = random_token();
    let code = InvitationCode::generate();
    let now = tx.now();
    let expires_at = now + Duration::days(valid_days);
    let invited_by = match inviter {
        Inviter::Admin(id) | Inviter::Nairo(id) => Some(id.as_str()),
        Inviter::Operator => None,
    };
    let id = uuid::Uuid::new_v4().to_string();
    diesel::insert_into(invitations::table)
        .values((
            invitations::id.eq(&id),
            invitations::token_hash.eq(token_hash(&token)),
            invitations::role.eq(invitee.role.as_str()),
            invitations::email.eq(invitee.email.as_str()),
            invitations::authority_code.eq(invitee.authority.as_ref().map(AuthorityCode::as_str)),
            invitations::adviser_kind.eq(invitee.adviser_kind.map(AdviserKind::as_str)),
            invitations::invited_by.eq(invited_by),
            invitations::created_at.eq(now),
            invitations::expires_at.eq(expires_at),
            invitations::code_hash.eq(Some(code.hash())),
            invitations::nominated.eq(matches!(inviter, Inviter::Nairo(_))),
            invitations::language.eq(invitee.language),
        ))
        .execute(tx.conn)?;
    tx.record(Event {
        details: crate::log::Details::None,
        kind: Kind::AccountInvited,
        actor: invited_by.map_or(Actor::Operator, Actor::Account),
        subject: Subject::Invitation(&id),
        authority: invitee.authority.as_ref().map(AuthorityCode::as_str),
    })?;
    if let (Inviter::Admin(_) | Inviter::Nairo(_), false) = (inviter, has_account) {
        tx.send(
            &invitee.email,
            mail::Notice::Invitation { token: &token },
            invitee.language,
        )?;
    }
    Ok(CreatedInvitation {
        token,
        code,
        expires_at,
    })
}

/// An invitation as an admin or NAIRO asks for it, before it is checked.
pub struct InvitationInput {
    pub role: Role,
    pub email: Email,
    pub authority: Option<AuthorityCode>,
    pub adviser_kind: Option<AdviserKind>,
    pub language: Language,
}

/// Invites someone through the API. Admins may invite any role; NAIRO reviewers may invite
/// IROs only (a nomination).
pub fn invite(
    tx: &mut Tx<'_>,
    caller: &Caller,
    input: InvitationInput,
    valid_days: i64,
) -> Result<CreatedInvitation, AccountError> {
    if caller.role == Role::Nairo && input.role != Role::Iro {
        return Err(AccountError::Forbidden);
    }
    let mut invitee = Invitee::new(input.role, input.email, input.authority, input.adviser_kind)
        .map_err(AccountError::InvalidInvitee)?;
    invitee.language = input.language;
    let inviter = match caller.role {
        Role::Nairo => Inviter::Nairo(&caller.account_id),
        _ => Inviter::Admin(&caller.account_id),
    };
    Ok(create(tx, &invitee, inviter, valid_days)?)
}

#[derive(Queryable, Selectable)]
#[diesel(table_name = invitations)]
struct StoredInvitation {
    id: String,
    role: Role,
    email: String,
    authority_code: Option<AuthorityCode>,
    adviser_kind: Option<AdviserKind>,
    code_hash: Option<String>,
    nominated: bool,
    language: Language,
}

struct OpenInvitation {
    id: String,
    invitee: Invitee,
    /// Made by NAIRO: the account counts in the statistics once an admin approves it.
    nominated: bool,
}

/// The two halves an invitee presents.
#[derive(Clone)]
struct Presented {
    token: String,
    code: Option<InvitationCode>,
}

impl Presented {
    /// `invitation` is the link's token, or `TOKEN.CODE` as the operator's console prints
    /// it; `code` is the inviter's half when given apart.
    fn new(invitation: &str, code: Option<&str>) -> Self {
        let (token, joined) = match invitation.trim().split_once('.') {
            Some((token, code)) => (token, Some(code)),
            None => (invitation.trim(), None),
        };
        Presented {
            token: token.to_owned(),
            code: code.or(joined).and_then(InvitationCode::parse),
        }
    }
}

fn refused() -> AccountError {
    // Unknown, used, expired and wrongly completed invitations are refused alike.
    AccountError::InvitationRefused
}

/// Finds the invitation both halves open. A wrong code for a known link counts against the
/// invitation (committed by the caller, even though the attempt is refused).
fn open_invitation(
    conn: &mut DbConnection,
    presented: &Presented,
) -> Result<Result<OpenInvitation, AccountError>, AccountError> {
    let row = invitations::table
        .filter(invitations::token_hash.eq(token_hash(&presented.token)))
        .filter(invitations::used_at.is_null())
        .filter(invitations::expires_at.gt(crate::db::now()))
        .filter(invitations::code_failures.lt(CODE_ATTEMPTS))
        .select(StoredInvitation::as_select())
        .first(conn)
        .optional()?;
    let Some(row) = row else {
        return Ok(Err(refused()));
    };
    // Invitations made before codes existed have none.
    if let Some(expected) = &row.code_hash {
        let right = presented
            .code
            .as_ref()
            .is_some_and(|c| c.hash() == *expected);
        if !right {
            diesel::update(invitations::table.find(&row.id))
                .set(invitations::code_failures.eq(invitations::code_failures + 1))
                .execute(conn)?;
            return Ok(Err(refused()));
        }
    }
    let corrupt = |e: String| AccountError::Corrupt(format!("stored invitation: {e}"));
    let mut invitee = Invitee::new(
        row.role,
        Email::parse(&row.email).map_err(corrupt)?,
        row.authority_code,
        row.adviser_kind,
    )
    .map_err(corrupt)?;
    invitee.language = row.language;
    Ok(Ok(OpenInvitation {
        id: row.id,
        invitee,
        nominated: row.nominated,
    }))
}

/// What an invitee sends to make their account.
pub struct NewAccountRequest {
    /// The link's token, or `TOKEN.CODE` as the operator's console prints it.
    pub invitation: String,
    /// The inviter's half, when given apart.
    pub code: Option<String>,
    pub password: String,
    pub display_name: DisplayName,
    pub notification_email: Option<Email>,
}

/// Turns an invitation into an account: its id, role and the receipt of its creation.
pub async fn accept(
    accounts: &Accounts,
    storage: &Storage,
    request: NewAccountRequest,
) -> Result<(AccountId, Role, Receipt), AccountError> {
    let NewAccountRequest {
        invitation,
        code,
        password,
        display_name,
        notification_email,
    } = request;
    let password = Password::new(password).map_err(AccountError::WeakPassword)?;
    let presented = Presented::new(&invitation, code.as_deref());
    let checking = presented.clone();
    // Check the invitation before spending an argon2 hash on it; a wrong code is counted.
    let open = storage
        .db
        .write(move |conn| open_invitation(conn, &checking))
        .await??;
    if password.equals_email(&open.invitee.email) {
        return Err(AccountError::WeakPassword(
            "the password must not be the email address".into(),
        ));
    }
    let hash = accounts
        .hashing
        .hash(password)
        .await
        .map_err(|_| AccountError::Busy)?;
    let role = open.invitee.role;
    let (id, receipt) = storage
        .write(move |tx| create_account(tx, &presented, &display_name, notification_email, &hash))
        .await?;
    Ok((id, role, receipt))
}

/// Uses the invitation to create its account, in one transaction with its log leaf.
fn create_account(
    tx: &mut Tx<'_>,
    presented: &Presented,
    display_name: &DisplayName,
    notification_email: Option<Email>,
    password_hash: &str,
) -> Result<(AccountId, Receipt), AccountError> {
    // Re-read inside the transaction: the invitation may have been used meanwhile.
    let open = open_invitation(tx.conn, presented)??;
    let invitee = &open.invitee;
    if store::email_exists(tx.conn, invitee.email.as_str())? {
        return Err(AccountError::AccountExists);
    }
    let id = AccountId::generate();
    store::insert_account(
        tx.conn,
        &store::NewAccount {
            id: &id,
            role: invitee.role,
            email: invitee.email.as_str(),
            display_name: display_name.as_str(),
            password_hash,
            authority_code: invitee.authority.as_ref().map(AuthorityCode::as_str),
            adviser_kind: invitee.adviser_kind,
            notification_email: notification_email.as_ref().map(Email::as_str),
            approved: !open.nominated,
            language: invitee.language,
        },
    )?;
    diesel::update(
        invitations::table
            .find(&open.id)
            .filter(invitations::used_at.is_null()),
    )
    .set(invitations::used_at.eq(tx.now()))
    .execute(tx.conn)?;
    let receipt = tx.record(Event {
        // What NAIRO's recount needs to count registered IROs: an account nominated for a
        // trial is counted from its approval (its own leaf), not from now.
        details: crate::log::Details::Account {
            role: invitee.role,
            counted: !open.nominated,
        },
        kind: Kind::AccountCreated,
        actor: Actor::Account(id.as_str()),
        subject: Subject::Account(id.as_str()),
        authority: invitee.authority.as_ref().map(AuthorityCode::as_str),
    })?;
    Ok((id, receipt))
}

/// For the command line: an invitation made directly in the database, no email sent.
pub fn create_from_cli(
    conn: &mut DbConnection,
    context: &WriteContext,
    invitee: &Invitee,
    valid_days: i64,
) -> Result<CreatedInvitation, InvitationError> {
    write_transaction(conn, |conn| {
        create(
            &mut Tx::new(conn, context),
            invitee,
            Inviter::Operator,
            valid_days,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email() -> Email {
        Email::parse("someone@example.org").unwrap()
    }

    #[test]
    fn a_code_is_read_as_a_person_types_it() {
        let code = InvitationCode::generate();
        assert_eq!(code.as_str().len(), 11);
        assert_eq!(InvitationCode::parse(code.as_str()), Some(code.clone()));
        let typed = code.as_str().replace('-', " ").to_lowercase();
        assert_eq!(InvitationCode::parse(&typed), Some(code));
        assert_eq!(
            InvitationCode::parse("o1l2i-abcde").unwrap().as_str(),
            "0112I-ABCDE".replace('I', "1")
        );
        assert!(InvitationCode::parse("ABCDE-FGHJ").is_none());
        assert!(InvitationCode::parse("ABCDE-FGHJU").is_none());
        let p = Presented::new("tok.abcde-fghjk", None);
        assert_eq!(p.token, "tok");
        assert_eq!(p.code.unwrap().as_str(), "ABCDE-FGHJK");
        let p = Presented::new(" tok ", Some("ABCDEFGHJK"));
        assert_eq!(
            (p.token.as_str(), p.code.unwrap().as_str()),
            ("tok", "ABCDE-FGHJK")
        );
    }

    fn code() -> Option<AuthorityCode> {
        Some(AuthorityCode::parse("E06000019").unwrap())
    }

    #[test]
    fn each_role_gets_exactly_the_attributes_it_needs() {
        assert!(Invitee::new(Role::Iro, email(), code(), None).is_ok());
        assert!(Invitee::new(Role::Iro, email(), None, None).is_err());
        assert!(Invitee::new(Role::Iro, email(), code(), Some(AdviserKind::Peer)).is_err());
        assert!(Invitee::new(Role::Adviser, email(), None, Some(AdviserKind::Solicitor)).is_ok());
        assert!(
            Invitee::new(Role::Adviser, email(), code(), Some(AdviserKind::Solicitor)).is_err()
        );
        assert!(Invitee::new(Role::Adviser, email(), code(), Some(AdviserKind::Peer)).is_ok());
        assert!(Invitee::new(Role::Adviser, email(), None, Some(AdviserKind::Peer)).is_err());
        assert!(Invitee::new(Role::Adviser, email(), None, None).is_err());
        assert!(Invitee::new(Role::Admin, email(), None, None).is_ok());
        assert!(Invitee::new(Role::Nairo, email(), code(), None).is_err());
    }
}
