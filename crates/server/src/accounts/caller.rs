//! Who is acting: the account behind an authenticated request, as the one authorisation
//! mechanism (`http::access`) found it. Services take these, so none of them checks a token.

use iro_advice_model::accounts::{AccountId, AdviserKind, Role};
use iro_advice_model::authorities::AuthorityCode;

/// The authenticated account behind a request.
#[derive(Debug, Clone)]
pub struct Caller {
    pub account_id: AccountId,
    pub role: Role,
    pub authority: Option<AuthorityCode>,
    pub adviser_kind: Option<AdviserKind>,
    pub session_id: String,
}

/// The caller on a route only IROs may call, with the authority every IRO has: services
/// that act for an IRO take this, so none of them checks for a missing authority.
#[derive(Debug, Clone)]
pub struct IroCaller {
    pub caller: Caller,
    pub authority: AuthorityCode,
}

impl std::ops::Deref for IroCaller {
    type Target = Caller;
    fn deref(&self) -> &Caller {
        &self.caller
    }
}

/// A caller who is not an IRO with an authority where one is required: a route table that
/// lets another role reach an IRO's handler, or an IRO account made without an authority.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct NotAnIro(&'static str);

impl TryFrom<Caller> for IroCaller {
    type Error = NotAnIro;

    fn try_from(caller: Caller) -> Result<Self, NotAnIro> {
        match (caller.role, caller.authority.clone()) {
            (Role::Iro, Some(authority)) => Ok(IroCaller { caller, authority }),
            // The route table lets only IROs reach a handler that asks for an IroCaller,
            // and every IRO account is created with an authority.
            (Role::Iro, None) => Err(NotAnIro("an IRO without an authority")),
            _ => Err(NotAnIro("a handler for IROs is reachable by another role")),
        }
    }
}

/// Which kind of client holds a session: shown in the list of a person's sessions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionClient {
    /// The web application: its refresh token is in a cookie its script cannot read.
    Web,
    /// Anything else (the command-line client): it holds its refresh token itself.
    Api,
}

impl SessionClient {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionClient::Web => "web",
            SessionClient::Api => "api",
        }
    }

    /// The stored text; anything unknown is shown as the generic client.
    pub fn from_stored(s: &str) -> Self {
        if s == "web" {
            SessionClient::Web
        } else {
            SessionClient::Api
        }
    }
}
