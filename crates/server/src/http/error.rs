//! The API's error type and its one translation into `application/problem+json` (RFC 9457).
//!
//! Every failure a client can see, including the framework's own (404, 405, 413, bad JSON),
//! leaves through [`ApiError`] or the catch-all in [`problem_for_framework_errors`], so each
//! carries a stable `type` a script can match on.

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::ServiceResponse;
use actix_web::http::header::{self, HeaderValue};
use actix_web::http::StatusCode;
use actix_web::middleware::ErrorHandlerResponse;
use actix_web::{HttpResponse, ResponseError};

use iro_advice_api::Problem;
pub use iro_advice_api::PROBLEM_JSON;
use iro_advice_model::problem::{problem_type, ProblemType};

use crate::accounts::{AccountError, SignInRefusal};
use crate::db::DbError;
use crate::log::LogError;
use crate::pressure::PressureError;
use crate::queries::QueryError;
use crate::statistics::StatisticsError;

#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error("not found")]
    NotFound,
    #[error("method not allowed")]
    MethodNotAllowed,
    #[error("{0}")]
    BadRequest(String),
    #[error("{0}")]
    InvalidJson(String),
    #[error("the request body is larger than this endpoint accepts ({limit} bytes)")]
    PayloadTooLarge { limit: usize },
    #[error("expected {expected}")]
    UnsupportedMediaType { expected: &'static str },
    #[error("the database is not available")]
    Unavailable,
    /// Shed load: every slot for the work is busy, and waiting would only queue it.
    #[error("the service is busy; try again in {retry_after_secs} seconds")]
    Busy { retry_after_secs: u64 },
    #[error("a valid access token is required")]
    Unauthenticated,
    #[error("this account may not do that")]
    Forbidden,
    #[error("enrol in TOTP (POST /api/v1/me/totp) before using the service")]
    SecondFactorEnrolmentRequired,
    /// A NAIRO nomination that no admin has approved yet.
    #[error("an administrator has yet to approve this account: until then it can only see itself and set up its second factor")]
    AwaitingApproval,
    #[error("too many attempts; try again in {retry_after_secs} seconds")]
    TooManyAttempts { retry_after_secs: u64 },
    /// A refusal particular to one endpoint, with its own problem type.
    #[error("{detail}")]
    Rejected {
        status: StatusCode,
        problem: ProblemType,
        detail: String,
    },
    #[error("internal error")]
    Internal(String),
}

impl ApiError {
    /// What kind of problem this is.
    pub fn problem_type(&self) -> ProblemType {
        match self {
            ApiError::NotFound => ProblemType::NotFound,
            ApiError::MethodNotAllowed => ProblemType::MethodNotAllowed,
            ApiError::BadRequest(_) => ProblemType::BadRequest,
            ApiError::InvalidJson(_) => ProblemType::InvalidJson,
            ApiError::PayloadTooLarge { .. } => ProblemType::PayloadTooLarge,
            ApiError::UnsupportedMediaType { .. } => ProblemType::UnsupportedMediaType,
            ApiError::Unavailable | ApiError::Busy { .. } => ProblemType::ServiceUnavailable,
            ApiError::Unauthenticated => ProblemType::Unauthenticated,
            ApiError::Forbidden => ProblemType::Forbidden,
            ApiError::SecondFactorEnrolmentRequired => ProblemType::SecondFactorEnrolmentRequired,
            ApiError::AwaitingApproval => ProblemType::AwaitingApproval,
            ApiError::TooManyAttempts { .. } => ProblemType::TooManyAttempts,
            ApiError::Rejected { problem, .. } => *problem,
            ApiError::Internal(_) => ProblemType::Internal,
        }
    }

    /// The last segment of the problem `type`; never changes once published.
    pub fn slug(&self) -> &'static str {
        self.problem_type().slug()
    }

    pub fn problem(&self) -> Problem {
        let detail = match self {
            // Internal details stay in the server's log, not in the answer.
            ApiError::Internal(_) | ApiError::NotFound | ApiError::MethodNotAllowed => None,
            other => Some(other.to_string()),
        };
        Problem {
            kind: problem_type(self.slug()),
            title: self.problem_type().title().to_owned(),
            status: self.status_code().as_u16(),
            detail,
        }
    }
}

/// What a domain type's deserialisation error carries to name the problem type its refusal
/// should have (see [`json_error`]).
pub fn problem_marker(problem: ProblemType) -> String {
    format!("[problem:{}]", problem.slug())
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        match self {
            ApiError::NotFound => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::BadRequest(_) | ApiError::InvalidJson(_) => StatusCode::BAD_REQUEST,
            ApiError::PayloadTooLarge { .. } => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::UnsupportedMediaType { .. } => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::Unavailable | ApiError::Busy { .. } => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::Unauthenticated => StatusCode::UNAUTHORIZED,
            ApiError::Forbidden
            | ApiError::SecondFactorEnrolmentRequired
            | ApiError::AwaitingApproval => StatusCode::FORBIDDEN,
            ApiError::TooManyAttempts { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Rejected { status, .. } => *status,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    fn error_response(&self) -> HttpResponse {
        if let ApiError::Internal(reason) = self {
            tracing::error!(%reason, "internal error");
        }
        let mut response = HttpResponse::build(self.status_code());
        response.content_type(PROBLEM_JSON);
        match self {
            ApiError::Unauthenticated => {
                response.insert_header((header::WWW_AUTHENTICATE, "Bearer"));
            }
            ApiError::TooManyAttempts { retry_after_secs }
            | ApiError::Busy { retry_after_secs } => {
                response.insert_header((header::RETRY_AFTER, retry_after_secs.to_string()));
            }
            ApiError::Unavailable => {
                response.insert_header((header::RETRY_AFTER, UNAVAILABLE_RETRY_SECS.to_string()));
            }
            _ => {}
        }
        response.json(self.problem())
    }
}

impl ApiError {
    pub fn bad_request(problem: ProblemType, detail: impl Into<String>) -> Self {
        ApiError::Rejected {
            status: StatusCode::BAD_REQUEST,
            problem,
            detail: detail.into(),
        }
    }

    pub fn unprocessable(problem: ProblemType, detail: impl Into<String>) -> Self {
        ApiError::Rejected {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            problem,
            detail: detail.into(),
        }
    }

    pub fn conflict(problem: ProblemType, detail: impl Into<String>) -> Self {
        ApiError::Rejected {
            status: StatusCode::CONFLICT,
            problem,
            detail: detail.into(),
        }
    }
}

/// When a client should try again after the database went away: a restart or failover
/// takes seconds, and the pool reconnects on its own.
pub const UNAVAILABLE_RETRY_SECS: u64 = 5;

impl From<DbError> for ApiError {
    fn from(e: DbError) -> Self {
        match e {
            DbError::Pool(_) | DbError::Connect(_) => ApiError::Unavailable,
            DbError::Query(q) if crate::db::connection_lost(&q) || crate::db::storage_full(&q) => {
                ApiError::Unavailable
            }
            other => ApiError::Internal(other.to_string()),
        }
    }
}

/// Ciphertext refused at the edge, with the problem type its form error names.
impl From<iro_advice_model::ciphertext::AgeFormatError> for ApiError {
    fn from(e: iro_advice_model::ciphertext::AgeFormatError) -> Self {
        ApiError::bad_request(e.problem(), e.to_string())
    }
}

impl From<AccountError> for ApiError {
    fn from(e: AccountError) -> Self {
        use AccountError as A;
        let detail = e.to_string();
        match e {
            A::NotFound => ApiError::NotFound,
            A::SignedOut => ApiError::Unauthenticated,
            A::Forbidden => ApiError::Forbidden,
            A::TooManyAttempts { retry_after_secs } => {
                ApiError::TooManyAttempts { retry_after_secs }
            }
            A::Busy => ApiError::Busy {
                retry_after_secs: 1,
            },
            A::BadRequest(detail) => ApiError::BadRequest(detail),
            A::OwnAccount(_) => ApiError::unprocessable(ProblemType::CannotChangeOwnStatus, detail),
            A::AlreadyApproved => ApiError::conflict(ProblemType::AlreadyApproved, detail),
            A::InvalidVerification(_) => {
                ApiError::unprocessable(ProblemType::InvalidVerification, detail)
            }
            A::InvalidSignature => ApiError::bad_request(ProblemType::InvalidSignature, detail),
            A::WeakPassword(_) => ApiError::bad_request(ProblemType::WeakPassword, detail),
            A::WrongCurrentPassword => ApiError::Rejected {
                status: StatusCode::FORBIDDEN,
                problem: ProblemType::InvalidCredentials,
                detail,
            },
            A::InvalidInvitee(_) => ApiError::unprocessable(ProblemType::InvalidInvitation, detail),
            A::InvitationRefused => ApiError::bad_request(ProblemType::InvalidInvitation, detail),
            A::AccountExists => ApiError::conflict(ProblemType::AccountExists, detail),
            A::TotpAlreadyEnabled => ApiError::conflict(ProblemType::TotpAlreadyEnabled, detail),
            A::TotpNotStarted => ApiError::unprocessable(ProblemType::TotpNotStarted, detail),
            A::TotpCodeInvalid => ApiError::unprocessable(ProblemType::TotpCodeInvalid, detail),
            A::StepUpRequired(_) => ApiError::Rejected {
                status: StatusCode::FORBIDDEN,
                problem: ProblemType::StepUpRequired,
                detail,
            },
            A::SignIn(refusal) => ApiError::Rejected {
                status: StatusCode::UNAUTHORIZED,
                problem: match refusal {
                    SignInRefusal::Credentials => ProblemType::InvalidCredentials,
                    SignInRefusal::SecondFactorMissing => ProblemType::SecondFactorRequired,
                    SignInRefusal::SecondFactorWrong => ProblemType::SecondFactorInvalid,
                    SignInRefusal::Suspended => ProblemType::AccountSuspended,
                },
                detail,
            },
            A::PasskeyInvalid(_) => ApiError::unprocessable(ProblemType::PasskeyInvalid, detail),
            A::PasskeyExists => ApiError::conflict(ProblemType::PasskeyExists, detail),
            A::LastSecondFactor => ApiError::conflict(ProblemType::LastSecondFactor, detail),
            A::Corrupt(reason) => ApiError::Internal(reason),
            A::Query(e) => e.into(),
            A::Database(e) => e.into(),
            A::Log(e) => e.into(),
            A::Notice(e) => e.into(),
        }
    }
}

impl From<LogError> for ApiError {
    fn from(e: LogError) -> Self {
        match e {
            LogError::Database(d) => d.into(),
            LogError::Unavailable(d) => d.into(),
            LogError::Inconsistent | LogError::Opening => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<QueryError> for ApiError {
    fn from(e: QueryError) -> Self {
        use QueryError as Q;
        let detail = e.to_string();
        match e {
            Q::NotFound => ApiError::NotFound,
            Q::WrongState(_) => ApiError::conflict(ProblemType::QueryState, detail),
            Q::TooFewRecipients(_) => {
                ApiError::bad_request(ProblemType::AgeTooFewRecipients, detail)
            }
            Q::AdviserNotEligible(_) => {
                ApiError::unprocessable(ProblemType::AdviserNotEligible, detail)
            }
            Q::MessagesMismatch => ApiError::unprocessable(ProblemType::MessagesMismatch, detail),
            Q::AttachmentAlreadyRead => {
                ApiError::conflict(ProblemType::AttachmentAlreadyRead, detail)
            }
            Q::QuotaExceeded { .. } => ApiError::Rejected {
                status: StatusCode::PAYLOAD_TOO_LARGE,
                problem: ProblemType::QuotaExceeded,
                detail,
            },
            Q::TooLarge { limit } => ApiError::PayloadTooLarge {
                limit: usize::try_from(limit).unwrap_or(usize::MAX),
            },
            Q::UploadTimeout(_) => ApiError::Rejected {
                status: StatusCode::REQUEST_TIMEOUT,
                problem: ProblemType::UploadTimeout,
                detail,
            },
            Q::UploadIncomplete(_) => ApiError::bad_request(ProblemType::UploadIncomplete, detail),
            Q::Ciphertext(e) => e.into(),
            Q::UploadOffset { .. } => ApiError::conflict(ProblemType::UploadOffset, detail),
            Q::BadRequest(_) => ApiError::bad_request(ProblemType::BadRequest, detail),
            Q::NotAsLogged => ApiError::conflict(ProblemType::QueryNotAsLogged, detail),
            Q::Query(e) => e.into(),
            Q::Database(e) => e.into(),
            Q::Log(e) => e.into(),
            Q::Notice(e) => e.into(),
            Q::Account(e) => e.into(),
            Q::Erase(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<PressureError> for ApiError {
    fn from(e: PressureError) -> Self {
        let detail = e.to_string();
        match e {
            PressureError::InvalidDate(_) => {
                ApiError::unprocessable(ProblemType::InvalidDate, detail)
            }
            PressureError::TooFewRecipients(_) => {
                ApiError::bad_request(ProblemType::AgeTooFewRecipients, detail)
            }
            PressureError::NairoRecipientUnset => {
                ApiError::unprocessable(ProblemType::NairoRecipientUnset, detail)
            }
            PressureError::InvalidSignature => {
                ApiError::bad_request(ProblemType::InvalidSignature, detail)
            }
            PressureError::Query(e) => e.into(),
            PressureError::Database(e) => e.into(),
            PressureError::Log(e) => e.into(),
        }
    }
}

impl From<StatisticsError> for ApiError {
    fn from(e: StatisticsError) -> Self {
        match e {
            StatisticsError::InvalidRequest(detail) => {
                ApiError::bad_request(ProblemType::InvalidStatisticsRequest, detail)
            }
            StatisticsError::Query(e) => e.into(),
            StatisticsError::Database(e) => e.into(),
            StatisticsError::Store(e) => ApiError::Internal(e.to_string()),
        }
    }
}

impl From<crate::accounts::notices::NoticeError> for ApiError {
    fn from(e: crate::accounts::notices::NoticeError) -> Self {
        match e {
            crate::accounts::notices::NoticeError::Database(d) => d.into(),
            other => ApiError::Internal(other.to_string()),
        }
    }
}

impl From<diesel::result::Error> for ApiError {
    fn from(e: diesel::result::Error) -> Self {
        ApiError::from(DbError::Query(e))
    }
}

/// 405 for a method a known path does not take, saying in `Allow` which it does.
pub fn method_not_allowed(allow: &str) -> HttpResponse {
    HttpResponse::MethodNotAllowed()
        .content_type(PROBLEM_JSON)
        .insert_header((header::ALLOW, allow.to_owned()))
        .json(ApiError::MethodNotAllowed.problem())
}

/// JSON extractor failures (malformed, wrong shape, too large) as problems.
pub fn json_error(
    err: actix_web::error::JsonPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    use actix_web::error::JsonPayloadError as J;
    let api = match &err {
        J::OverflowKnownLength { limit, .. } | J::Overflow { limit } => {
            ApiError::PayloadTooLarge { limit: *limit }
        }
        J::ContentType => ApiError::UnsupportedMediaType {
            expected: "application/json",
        },
        J::Deserialize(e) => {
            let message = e.to_string();
            // A field that parses into a domain type may name its own problem type.
            match ProblemType::ALL
                .iter()
                .find(|p| message.contains(&problem_marker(**p)))
            {
                Some(problem) => ApiError::bad_request(
                    *problem,
                    message
                        .replace(&problem_marker(*problem), "")
                        .replace("  ", " "),
                ),
                None => ApiError::InvalidJson(message),
            }
        }
        other => ApiError::BadRequest(other.to_string()),
    };
    api.into()
}

/// Query-string and path extractor failures as problems.
pub fn query_error(
    err: actix_web::error::QueryPayloadError,
    _: &actix_web::HttpRequest,
) -> actix_web::Error {
    ApiError::BadRequest(err.to_string()).into()
}

pub fn path_error(_: actix_web::error::PathError, _: &actix_web::HttpRequest) -> actix_web::Error {
    // A malformed id is indistinguishable from one that does not exist.
    ApiError::NotFound.into()
}

/// Replaces any error response that is not already a problem (the router's 404 and 405, a
/// payload error raised below the extractors) with one, so no bare error leaves the server.
pub fn problem_for_framework_errors<B: MessageBody + 'static>(
    res: ServiceResponse<B>,
) -> actix_web::Result<ErrorHandlerResponse<B>> {
    let is_problem = res
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if is_problem {
        return Ok(ErrorHandlerResponse::Response(res.map_into_left_body()));
    }
    let status = res.status();
    let api = match status {
        StatusCode::NOT_FOUND => ApiError::NotFound,
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed,
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge { limit: 0 },
        StatusCode::SERVICE_UNAVAILABLE => ApiError::Unavailable,
        s if s.is_client_error() => {
            ApiError::BadRequest(s.canonical_reason().unwrap_or("bad request").to_owned())
        }
        _ => ApiError::Internal(format!("unhandled {status}")),
    };
    let mut problem = api.problem();
    problem.status = status.as_u16();
    problem.detail = None;
    let body = serde_json::to_vec(&problem).unwrap_or_default();
    let (req, mut response) = res.into_parts();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
    response.headers_mut().remove(header::CONTENT_LENGTH);
    let response = response.set_body(BoxBody::new(body));
    Ok(ErrorHandlerResponse::Response(
        ServiceResponse::new(req, response).map_into_right_body(),
    ))
}
