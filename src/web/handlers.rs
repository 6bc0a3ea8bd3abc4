//! Serves the bundle. The page may load only its own script and style, talk only to this
//! origin, and never build script from a string: whoever injects text into a page (a message
//! body, a display name) gets text, not code.

use actix_web::http::header;
use actix_web::{web, HttpRequest, HttpResponse};

use super::assets::{self, Asset, INDEX};
use crate::error::ApiError;

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

fn serve(req: &HttpRequest, asset: &Asset) -> HttpResponse {
    let etag = format!("\"{}\"", asset.sha256_hex());
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
    if fresh {
        res.finish()
    } else {
        res.body(asset.bytes)
    }
}

/// The application. Its own pages are addressed after `#`, so every page is this one file.
#[utoipa::path(get, path = "/", tag = "web",
    responses((status = 200, description = "The web application", content_type = "text/html")))]
pub async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX)
}

/// Where an email's link lands: an invitation's token, or a notice, after `#`, which the
/// browser never sends.
#[utoipa::path(get, path = "/open", tag = "web",
    responses((status = 200, description = "The web application", content_type = "text/html")))]
pub async fn open(req: HttpRequest) -> HttpResponse {
    serve(&req, &INDEX)
}

/// The application's script and style.
#[utoipa::path(get, path = "/assets/{file}", tag = "web",
    params(("file" = String, Path, description = "a file of the bundle, such as app.js")),
    responses((status = 200, description = "A file of the bundle"),
              (status = 304, description = "Unchanged since the ETag given")))]
pub async fn asset(req: HttpRequest, file: web::Path<String>) -> Result<HttpResponse, ApiError> {
    let asset = assets::asset(&file).ok_or(ApiError::NotFound)?;
    Ok(serve(&req, asset))
}
