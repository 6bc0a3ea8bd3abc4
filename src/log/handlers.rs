//! The log's public face: checkpoint, verifier key, proofs; and an account's receipts.

use actix_web::{web, HttpResponse};
use serde::Deserialize;
use utoipa::IntoParams;

use super::note::Checkpoint;
use super::{encode_hashes, merkle, store, Actor, Receipt};
use crate::access::Caller;
use crate::app::AppState;
use crate::error::{ApiError, ProblemType};
use crate::wire::{ConsistencyProof, InclusionProof};

/// The latest signed checkpoint, as a C2SP signed note.
#[utoipa::path(get, path = "/api/v1/log/checkpoint", tag = "log",
    responses((status = 200, content_type = "text/plain; charset=utf-8", body = String)))]
pub async fn checkpoint(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let latest = state
        .db
        .run(|conn| store::latest_checkpoint(conn).map_err(ApiError::from))
        .await?;
    let note = match latest {
        Some(latest) => latest.note,
        // An empty log still has a signed head: size 0, the empty root.
        None => state.log.signer.sign(
            &Checkpoint {
                origin: state.log.signer.name().to_owned(),
                size: 0,
                root: merkle::empty_root(),
            }
            .text(),
        ),
    };
    Ok(HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(note))
}

/// The log's verifier key, in C2SP form.
#[utoipa::path(get, path = "/api/v1/log/key", tag = "log",
    responses((status = 200, content_type = "text/plain; charset=utf-8", body = String)))]
pub async fn key(state: web::Data<AppState>) -> HttpResponse {
    HttpResponse::Ok()
        .content_type("text/plain; charset=utf-8")
        .body(format!("{}\n", state.log.signer.verifier_key()))
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

#[utoipa::path(get, path = "/api/v1/log/proof/inclusion", tag = "log", params(InclusionParams),
    responses((status = 200, body = InclusionProof), (status = 400, body = crate::error::Problem)))]
pub async fn inclusion(
    state: web::Data<AppState>,
    params: web::Query<InclusionParams>,
) -> Result<HttpResponse, ApiError> {
    let InclusionParams { index, size } = params.into_inner();
    let hashes = state
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

#[utoipa::path(get, path = "/api/v1/log/proof/consistency", tag = "log", params(ConsistencyParams),
    responses((status = 200, body = ConsistencyProof), (status = 400, body = crate::error::Problem)))]
pub async fn consistency(
    state: web::Data<AppState>,
    params: web::Query<ConsistencyParams>,
) -> Result<HttpResponse, ApiError> {
    let ConsistencyParams { from, to } = params.into_inner();
    let hashes = state
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

/// Receipts for every event this account caused, against the latest checkpoint.
#[utoipa::path(get, path = "/api/v1/me/receipts", tag = "log",
    responses((status = 200, body = [Receipt])), security(("bearer" = [])))]
pub async fn receipts(
    state: web::Data<AppState>,
    caller: Caller,
) -> Result<HttpResponse, ApiError> {
    let actor = state
        .log
        .actor_pseudonym(Actor::Account(caller.account_id.as_str()));
    let receipts = state
        .db
        .run(move |conn| store::receipts_for(conn, &actor).map_err(ApiError::from))
        .await?;
    Ok(HttpResponse::Ok().json(receipts))
}
