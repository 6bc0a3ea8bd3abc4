//! Serves the bundle. The page may load only its own script and style, talk only to this
//! origin, and never build script from a string: whoever injects text into a page (a message
//! body, a display name) gets text, not code.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};
use iro_advice_api::paths;

use super::assets::{self, Asset, INDEX};
use crate::http::error::ApiError;
use crate::http::state::AppState;
use crate::log::Receipt;
use iro_advice_api::WebAppProof;
use iro_advice_model::problem::ProblemType;

/// The application's policy. `trusted-types 'none'` with `require-trusted-types-for` makes
/// every string-to-HTML or string-to-script sink throw, whatever a dependency tries.
pub const APP_CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self' data:; manifest-src 'self'; form-action 'self'; \
     object-src 'none'; base-uri 'none'; frame-ancestors 'none'; \
     require-trusted-types-for 'script'; trusted-types 'none'";

/// Everything the page does not use is denied; passkeys are allowed for this origin only.
pub const PERMISSIONS_POLICY: &str = "accelerometer=(), autoplay=(), camera=(), \
     display-capture=(), encrypted-media=(), fullscreen=(), geolocation=(), gyroscope=(), \
     hid=(), magnetometer=(), microphone=(), midi=(), payment=(), picture-in-picture=(), \
     screen-wake-lock=(), serial=(), usb=(), xr-spatial-tracking=(), \
     publickey-credentials-create=(self), publickey-credentials-get=(self)";

fn serve(req: &HttpRequest, state: &AppState, asset: &Asset) -> Result<HttpResponse, ApiError> {
    let (bytes, digest) = state
        .web
        .read(asset)
        .map_err(|e| ApiError::Internal(format!("web asset {}: {e}", asset.path)))?;
    let etag = format!("\"{digest}\"");
    let fresh = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let mut res = if fresh {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::CONTENT_TYPE, asset.media_type))
        .insert_header((header::ETAG, etag))
        // Names carry no hash, so every load asks; an unchanged file costs a 304.
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .insert_header((header::CONTENT_SECURITY_POLICY, APP_CSP))
        .insert_header(("Cross-Origin-Opener-Policy", "same-origin"))
        .insert_header(("Cross-Origin-Embedder-Policy", "require-corp"))
        .insert_header(("Permissions-Policy", PERMISSIONS_POLICY));
    Ok(if fresh {
        res.finish()
    } else {
        res.body(bytes.into_owned())
    })
}

/// The application. Its own pages are addressed after `#`, so every page is this one file.
#[utoipa::path(get, path = paths::WEB_INDEX, tag = "web",
    responses((status = 200, description = "The web application", content_type = "text/html")))]
pub async fn index(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    serve(&req, &state, &INDEX)
}

/// Where an email's link lands: an invitation's token, or a notice, after `#`, which the
/// browser never sends.
#[utoipa::path(get, path = paths::WEB_OPEN, tag = "web",
    responses((status = 200, description = "The web application", content_type = "text/html")))]
pub async fn open(req: HttpRequest, state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    serve(&req, &state, &INDEX)
}

/// The application's script and style.
#[utoipa::path(get, path = paths::WEB_ASSET, tag = "web",
    params(("file" = String, Path, description = "a file of the bundle, such as app.js")),
    responses((status = 200, description = "A file of the bundle"),
              (status = 304, description = "Unchanged since the ETag given")))]
pub async fn asset(
    req: HttpRequest,
    state: web::Data<AppState>,
    file: web::Path<String>,
) -> Result<HttpResponse, ApiError> {
    let asset = assets::asset(&file).ok_or(ApiError::NotFound)?;
    serve(&req, &state, asset)
}

/// The manifest of the application this instance serves (the path and SHA-256 of every
/// file), exactly as its leaf hashes it, with the leaf's inclusion proof in the checkpoint
/// the witnesses cosigned: what `iro-advice web verify` checks the served files against.
#[utoipa::path(get, path = paths::WEB_MANIFEST, tag = "web",
    responses((status = 200, body = WebAppProof),
              (status = 503, body = iro_advice_api::Problem, content_type = "application/problem+json")))]
pub async fn manifest(state: web::Data<AppState>) -> Result<HttpResponse, ApiError> {
    let manifest = state.web.manifest_json().to_owned();
    let (witnessing, keys, bundle) = (
        state.storage.witnessing.clone(),
        state.storage.context.log.clone(),
        state.web.clone(),
    );
    let receipt = state
        .read(move |conn| -> Result<Option<Receipt>, ApiError> {
            let Some(leaf) = super::publish::leaf_of(conn, &bundle)? else {
                return Ok(None);
            };
            let Some(served) = witnessing.served(conn, &keys)? else {
                return Ok(None);
            };
            let Some(proof) = crate::log::store::key_proof(conn, leaf, served.size)? else {
                return Ok(None);
            };
            Ok(Some(Receipt {
                leaf_index: Some(proof.leaf_index),
                leaf_data: proof.leaf_data,
                opening: None,
                checkpoint: Some(served.note),
                inclusion_proof: proof.inclusion_proof,
            }))
        })
        .await?;
    let receipt = receipt.ok_or_else(|| ApiError::Rejected {
        status: actix_web::http::StatusCode::SERVICE_UNAVAILABLE,
        problem: ProblemType::NotWitnessed,
        detail: "the witnesses have not yet cosigned a checkpoint that holds this build's \
                 manifest; try again shortly"
            .into(),
    })?;
    Ok(HttpResponse::Ok().json(WebAppProof { manifest, receipt }))
}
