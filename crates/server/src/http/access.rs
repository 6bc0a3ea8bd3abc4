//! Authorisation: the one mechanism through which every route says who may call it.
//!
//! Routes are declared in `routes.rs` with an [`Access`]; [`Authorize`] wraps every resource
//! and, before any handler runs, authenticates the bearer token, checks the account is active
//! and its session alive, enforces TOTP enrolment and the route's roles, and leaves a
//! [`Caller`] for the handler. A handler that takes a `Caller` on a public route gets a 500,
//! never someone else's identity.

use std::future::{ready, Future, Ready};
use std::pin::Pin;
use std::rc::Rc;

use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::Method;
use actix_web::{web, FromRequest, HttpMessage, HttpRequest, ResponseError};

use crate::accounts::store;
pub use crate::accounts::{Caller, IroCaller};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use iro_advice_model::accounts::{AccountId, Role};

/// Who may call a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Anyone, with no token.
    Public,
    /// Any active account, including one that has yet to enrol in the TOTP its role needs:
    /// only the routes that let it see itself and enrol.
    Enrolling,
    /// Active accounts of these roles, enrolled in TOTP where the role requires it.
    Roles(&'static [Role]),
}

impl Access {
    pub const ANY_ACCOUNT: Access =
        Access::Roles(&[Role::Iro, Role::Adviser, Role::Nairo, Role::Admin]);
    /// How many roles there are, all of which [`Access::ANY_ACCOUNT`] lets in.
    pub const ANY_ACCOUNT_ROLES: usize = 4;
}

impl FromRequest for Caller {
    type Error = ApiError;
    type Future = Ready<Result<Caller, ApiError>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(req.extensions().get::<Caller>().cloned().ok_or_else(|| {
            ApiError::Internal("a handler asked for a Caller on a public route".into())
        }))
    }
}

impl FromRequest for IroCaller {
    type Error = ApiError;
    type Future = Ready<Result<IroCaller, ApiError>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        ready(
            Caller::from_request(req, payload)
                .into_inner()
                .and_then(|c| {
                    IroCaller::try_from(c).map_err(|e| ApiError::Internal(e.to_string()))
                }),
        )
    }
}

fn bearer(req: &ServiceRequest) -> Option<String> {
    let value = req.headers().get(actix_web::http::header::AUTHORIZATION)?;
    let value = value.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim().to_owned())
        .filter(|t| !t.is_empty())
}

async fn authenticate(
    state: web::Data<AppState>,
    token: Option<String>,
    access: Access,
) -> Result<Caller, ApiError> {
    let claims = token
        .and_then(|t| state.accounts.tokens.verify(&t))
        .ok_or(ApiError::Unauthenticated)?;
    let account_id = AccountId::from_string(claims.sub.clone());
    let session_id = claims.sid.clone();
    let started_after =
        crate::db::now() - chrono::Duration::hours(state.settings.accounts.session_hours);
    // One query per request, so a suspension or logout takes effect at once on every
    // instance, with no session state held in memory.
    let account = state
        .storage
        .db
        .run(move |conn| {
            store::active_account_in_session(conn, &account_id, &session_id, started_after)
                .map_err(ApiError::from)
        })
        .await?
        .ok_or(ApiError::Unauthenticated)?;
    match access {
        Access::Public => unreachable!("public routes are not authenticated"),
        Access::Enrolling => {}
        Access::Roles(roles) => {
            // A nomination (NAIRO's invitation) does nothing until an admin approves it:
            // otherwise NAIRO could mint IROs that ask, report and see advisers' workloads.
            if !account.approved() {
                return Err(ApiError::AwaitingApproval);
            }
            if !account.has_second_factor() {
                return Err(ApiError::SecondFactorEnrolmentRequired);
            }
            if !roles.contains(&account.role) {
                return Err(ApiError::Forbidden);
            }
        }
    }
    Ok(Caller {
        account_id: account.id,
        role: account.role,
        authority: account.authority,
        adviser_kind: account.adviser_kind,
        session_id: claims.sid,
    })
}

/// Middleware applying each method's [`Access`] on one resource.
#[derive(Clone)]
pub struct Authorize {
    rules: Rc<Vec<(Method, Access)>>,
}

impl Authorize {
    pub fn new(rules: Vec<(Method, Access)>) -> Self {
        Authorize {
            rules: Rc::new(rules),
        }
    }
}

impl<S, B> Transform<S, ServiceRequest> for Authorize
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = AuthorizeService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, ()>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(AuthorizeService {
            service: Rc::new(service),
            rules: self.rules.clone(),
        }))
    }
}

pub struct AuthorizeService<S> {
    service: Rc<S>,
    rules: Rc<Vec<(Method, Access)>>,
}

impl<S, B> Service<ServiceRequest> for AuthorizeService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let access = self
            .rules
            .iter()
            .find(|(method, _)| method == req.method())
            .map(|(_, access)| *access);
        let service = self.service.clone();
        // The session cookie on a state-changing request the page's script did not send:
        // refused before anything, on every route, whatever the route's access.
        if crate::accounts::handlers::browser::forged(req.method(), req.headers()) {
            let response = ApiError::Rejected {
                status: actix_web::http::StatusCode::FORBIDDEN,
                problem: iro_advice_model::problem::ProblemType::CrossSiteRequest,
                detail: "a request carrying the web application's session cookie must carry \
                         its X-IRO-Advice-Client header"
                    .into(),
            }
            .error_response();
            return Box::pin(ready(Ok(req.into_response(response).map_into_right_body())));
        }
        Box::pin(async move {
            match access {
                // No rule: the resource answers 405 by itself; public: nothing to check.
                None | Some(Access::Public) => {
                    service.call(req).await.map(|r| r.map_into_left_body())
                }
                Some(access) => {
                    let state = req
                        .app_data::<web::Data<AppState>>()
                        .cloned()
                        .expect("AppState is registered");
                    match authenticate(state, bearer(&req), access).await {
                        Ok(caller) => {
                            req.extensions_mut().insert(caller);
                            service.call(req).await.map(|r| r.map_into_left_body())
                        }
                        Err(e) => {
                            let response = e.error_response();
                            Ok(req.into_response(response).map_into_right_body())
                        }
                    }
                }
            }
        })
    }
}
