//! The log's public face: checkpoint, verifier key, proofs; and an account's receipts.

use actix_web::{web, HttpResponse};
use iro_advice_api::paths;
use serde::Deserialize;
use utoipa::IntoParams;

use base64::engine::general_purpose::STANDARD as B64;
use base64::Engine;

use super::{encode_hashes, opaque, store, Actor, Receipt};
use crate::accounts::Caller;
use crate::http::error::ApiError;
use crate::http::state::AppState;
use iro_advice_api::{
    ConsistencyProof, InclusionProof, IndexedOpening, LeafOpening, LogTrust, OpenedLeaf,
};
use iro_advice_model::problem::ProblemType;
use iro_advice_tlog::tiles::TileRef;

/// The newest checkpoint a quorum of the witnesses cosigned (with their cosignature lines),
/// as a C2SP signed note; with no witnesses configured, the newest the log signed.
#[utoipa::path(get, path = paths::LOG_CHECKPOINT, tag = "log",
    responses((status = 200, content_type = "text/plain; charset=utf-8", body = String),
              (status = 503, body = iro_advice_api::Problem, content_type = "application/problem+json")))]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let served = {
        let (witnessing, keys) = (
            state.storage.witnessing.clone(),
            state.storage.context.log.clone(),
        );
        state
            .read(move |conn| witnessing.served(conn, &keys).map_err(ApiError::from))
            .await?
    };
    let Some(served) = served else {
        return Err(ApiError::Rejected {
            status: actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
            problem: ProblemType::NotWitnessed,
            detail: "no checkpoint has been cosigned by the quorum of witnesses yet; try again \
                     shortly"
                .into(),
        });
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(served.note))
}

/// The log's verifier key, in C2SP form.
#[utoipa::path(get, path = paths::LOG_KEY, tag = "log",
    responses((status = 200, content_type = "text/plain; charset=utf-8", body = String)))]
pub async fn key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!(
            "{}\n",
            state.storage.context.log.signer.verifier_key()
        ))
}

/// The keys a client should pin: the log's, the witnesses', and the quorum it requires.
#[utoipa::path(get, path = paths::LOG_TRUST, tag = "log",
    responses((status = 200, body = LogTrust)))]
pub async fn trust(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok().json(LogTrust {
        log_key: state.storage.context.log.signer.verifier_key(),
        witnesses: state.storage.witnessing.keys(),
        quorum: state.storage.witnessing.quorum(),
    })
}

#[derive(Deserialize, IntoParams)]
pub struct InclusionParams {
    /// The leaf, below `size`.
    index: u64,
    /// A tree size the log has reached.
    size: u64,
}

fn bad_proof(detail: String) -> ApiError {
    ApiError::bad_request(ProblemType::InvalidProofRequest, detail)
}

#[utoipa::path(get, path = paths::LOG_INCLUSION, tag = "log", params(InclusionParams),
    responses((status = 200, body = InclusionProof), (status = 400, body = iro_advice_api::Problem)))]
pub async fn inclusion(
    state: web::Data<AppState>,
    params: web::Query<InclusionParams>,
) -> Result<HttpResponse, ApiError> {
    let InclusionParams { index, size } = params.into_inner();
    let hashes = state
        .storage
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let current = store::size(conn)?;
            if index >= size || size > current {
                return Err(bad_proof(format!("need index < size <= {current}")));
            }
            Ok(store::inclusion(conn, index, size)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(InclusionProof {
        leaf_index: index,
        tree_size: size,
        hashes: encode_hashes(&hashes),
    }))
}

#[derive(Deserialize, IntoParams)]
pub struct ConsistencyParams {
    /// The older tree size, at most `to`.
    from: u64,
    /// The newer tree size, at most the log's size.
    to: u64,
}

#[utoipa::path(get, path = paths::LOG_CONSISTENCY, tag = "log", params(ConsistencyParams),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = iro_advice_api::Problem)))]
pub async fn consistency(
    state: web::Data<AppState>,
    params: web::Query<ConsistencyParams>,
) -> Result<HttpResponse, ApiError> {
    let ConsistencyParams { from, to } = params.into_inner();
    let hashes = state
        .storage
        .db
        .run(move |conn| -> Result<_, ApiError> {
            let current = store::size(conn)?;
            if from > to || to > current {
                return Err(bad_proof(format!("need from <= to <= {current}")));
            }
            Ok(store::consistency(conn, from, to)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(ConsistencyProof {
        hashes: encode_hashes(&hashes),
    }))
}

/// Receipts for every event this account caused: against the newest cosigned checkpoint,
/// or, for acts newer than it, against the log's own newest until the witnesses catch up.
#[utoipa::path(get, path = paths::ME_RECEIPTS, tag = "log",
    responses((status = 200, body = [Receipt])), security(("bearer" = [])))]
pub async fn receipts(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let actor = state
        .storage
        .context
        .log
        .actor_pseudonym(Actor::Account(caller.account_id.as_str()));
    let (witnessing, keys) = (
        state.storage.witnessing.clone(),
        state.storage.context.log.clone(),
    );
    let receipts = state
        .read(move |conn| -> Result<_, ApiError> {
            let served = witnessing.served(conn, &keys)?.map(|s| (s.size, s.note));
            Ok(store::receipts_for(conn, &actor, served)?)
        })
        .await?;
    Ok(HttpResponse::Ok().json(receipts))
}

/// A hash tile or entry bundle (C2SP tlog-tiles), immutable once served.
// OpenAPI writes the path without the pattern that lets the parameter span segments
// (`paths::LOG_TILE`); the route table matches it with the pattern.
#[utoipa::path(get, path = "/api/v1/log/tile/{tile}", tag = "log",
    params(("tile" = String, Path, description = "`<L>/<N>[.p/<W>]` or `entries/<N>[.p/<W>]`, N in 3-digit groups (`x001/234`)")),
    responses((status = 200, content_type = "application/octet-stream", body = Vec<u8>)))]
pub async fn tile(
    state: web::Data<AppState>,
    tail: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let tile = TileRef::parse(&tail.into_inner()).ok_or(ApiError::NotFound)?;
    let bytes = state
        .read(move |conn| -> Result<_, ApiError> {
            let size = super::store::size(conn)?;
            Ok(super::tiles::read(conn, tile, size)?)
        })
        .await?
        .ok_or(ApiError::NotFound)?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .insert_header(("Cache-Control", "public, max-age=31536000, immutable"))
        .body(bytes))
}

/// The published leaves about the caller's own account (its key events, its changes of
/// declared conflicts and of availability, its sign-ins), with their openings: its client
/// finds them in the log by their tags and checks each against what it did itself.
#[utoipa::path(get, path = paths::ME_DIRECTORY, tag = "log",
    responses((status = 200, body = [OpenedLeaf])), security(("bearer" = [])))]
pub async fn directory(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let id = caller.account_id;
    let leaves = state
        .read(move |conn| -> Result<_, ApiError> {
            let (versions, changes, sign_ins, availability) =
                crate::accounts::store::directory_counts(conn, &id)?;
            let tags: Vec<[u8; 32]> = (1..=versions)
                .map(|v| opaque::key_tag(id.as_str(), v))
                .chain((1..=changes).map(|c| opaque::conflicts_tag(id.as_str(), c)))
                .chain((1..=sign_ins).map(|n| opaque::sign_in_tag(id.as_str(), n)))
                .chain((1..=availability).map(|a| opaque::availability_tag(id.as_str(), a)))
                .collect();
            Ok(store::tagged(conn, &tags)?)
        })
        .await?;
    let leaves: Vec<OpenedLeaf> = leaves
        .into_iter()
        .map(|(leaf_index, data, opening)| OpenedLeaf {
            leaf_index,
            leaf_data: B64.encode(data),
            opening: opening.as_ref().map(LeafOpening::from),
        })
        .collect();
    Ok(HttpResponse::Ok().json(leaves))
}

/// The most openings one request returns.
pub const MAX_OPENINGS: u64 = 50_000;

#[derive(Deserialize, IntoParams)]
pub struct OpeningsParams {
    /// The first leaf index.
    from: u64,
    /// One past the last leaf index, at most `from` + 50,000 and the log's size.
    to: u64,
}

/// Every opening of the leaves `from..to`, for NAIRO's audit: JSON lines of
/// `IndexedOpening`, encrypted (age, armored) to NAIRO's configured key, so that only NAIRO
/// can read them, whoever holds the reviewer's session.
#[utoipa::path(get, path = paths::LOG_OPENINGS, tag = "log", params(OpeningsParams),
    responses((status = 200, content_type = "text/plain; charset=utf-8", body = String),
              (status = 400, body = iro_advice_api::Problem, content_type = "application/problem+json"),
              (status = 409, body = iro_advice_api::Problem, content_type = "application/problem+json")),
    security(("bearer" = [])))]
pub async fn openings(
    state: web::Data<AppState>,
    params: web::Query<OpeningsParams>,
) -> Result<HttpResponse, ApiError> {
    let OpeningsParams { from, to } = params.into_inner();
    let recipient: age::x25519::Recipient = state
        .settings
        .nairo
        .recipient
        .as_deref()
        .and_then(|r| r.parse().ok())
        .ok_or_else(|| {
            ApiError::conflict(
                ProblemType::NairoRecipientUnset,
                "NAIRO's key is not configured (IRO_ADVICE_NAIRO_RECIPIENT): there is no one to \
                 encrypt the openings to",
            )
        })?;
    let lines = state
        .read(move |conn| -> Result<_, ApiError> {
            let size = store::size(conn)?;
            if from > to || to > size || to - from > MAX_OPENINGS {
                return Err(bad_proof(format!(
                    "need from <= to <= {size} and at most {MAX_OPENINGS} leaves"
                )));
            }
            let mut text = String::new();
            for (leaf_index, opening) in store::openings(conn, from, to)? {
                let line = IndexedOpening {
                    leaf_index,
                    opening: LeafOpening::from(&opening),
                };
                text.push_str(
                    &serde_json::to_string(&line).map_err(|e| ApiError::Internal(e.to_string()))?,
                );
                text.push('\n');
            }
            Ok(text)
        })
        .await?;
    let armored = web::block(move || age::encrypt_and_armor(&recipient, lines.as_bytes()))
        .await
        .map_err(|e| ApiError::Internal(e.to_string()))?
        .map_err(|e| ApiError::Internal(e.to_string()))?;
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .insert_header(("Cache-Control", "no-store"))
        .body(armored))
}
