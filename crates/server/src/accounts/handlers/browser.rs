//! Sessions of the web application: the refresh token lives in a cookie the page's script
//! cannot read, so script injected into the page (or a copy of its memory) gets at most the
//! short-lived access token.
//!
//! The page says it is the web application with [`CLIENT_HEADER`] on every request. A
//! cross-site form or link cannot set a header, so a state-changing request that carries
//! the cookie without the header is refused by [`crate::http::access::Authorize`] before anything
//! reads it — one rule, applied where every route's access is decided.
//!
//! The cookie is `__Host-`: bound to this host, `Secure`, and `Path=/` (browsers refuse a
//! `__Host-` cookie with any other path). Host binding is the stronger of the two
//! restrictions — no sibling domain can plant or shadow it — and a path is no boundary
//! inside one origin; only the refresh and logout handlers ever read it.

use actix_web::http::header::{HeaderValue, COOKIE};
use actix_web::http::Method;
use actix_web::HttpRequest;
use actix_web::HttpResponseBuilder;

pub use iro_advice_api::headers::{CLIENT as CLIENT_HEADER, REFRESH_COOKIE};

use crate::accounts::sessions::SessionClient;

/// The client header's one value.
pub const WEB: &str = "web";

/// Which kind of client sent a request: the web application says so on every request.
pub fn client_of(req: &HttpRequest) -> SessionClient {
    match req.headers().get(CLIENT_HEADER) {
        Some(v) if v.as_bytes() == WEB.as_bytes() => SessionClient::Web,
        _ => SessionClient::Api,
    }
}

/// The value of the refresh cookie, if the request carries it.
pub fn refresh_cookie(headers: &actix_web::http::header::HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == REFRESH_COOKIE)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// True for a state-changing request that carries the refresh cookie but not the header
/// only the page's own script can add: a cross-site form, or a page of another origin.
pub fn forged(method: &Method, headers: &actix_web::http::header::HeaderMap) -> bool {
    let safe = matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let from_page = headers
        .get(CLIENT_HEADER)
        .is_some_and(|v| v.as_bytes() == WEB.as_bytes());
    !safe && !from_page && refresh_cookie(headers).is_some()
}

/// Sets the cookie to a new refresh token, for `max_age_secs`.
pub fn set_refresh_cookie(res: &mut HttpResponseBuilder, token: &str, max_age_secs: i64) {
    let value = format!(
        "{REFRESH_COOKIE}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; Secure; SameSite=Strict"
    );
    if let Ok(v) = HeaderValue::from_str(&value) {
        res.append_header((actix_web::http::header::SET_COOKIE, v));
    }
}

/// Tells the browser to drop the cookie.
pub fn clear_refresh_cookie(res: &mut HttpResponseBuilder) {
    let value = format!("{REFRESH_COOKIE}=; Path=/; Max-Age=0; HttpOnly; Secure; SameSite=Strict");
    res.append_header((actix_web::http::header::SET_COOKIE, value));
}

#[cfg(test)]
mod tests {
    use super::*;
    use actix_web::http::header::{HeaderMap, HeaderName};

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    #[test]
    fn the_cookie_is_found_among_others_and_only_by_its_exact_name() {
        let h = headers(&[("cookie", "a=1; __Host-iro-advice-refresh=tok; b=2")]);
        assert_eq!(refresh_cookie(&h).as_deref(), Some("tok"));
        let h = headers(&[("cookie", "x__Host-iro-advice-refresh=tok")]);
        assert_eq!(refresh_cookie(&h), None);
        let h = headers(&[("cookie", "__Host-iro-advice-refresh=")]);
        assert_eq!(refresh_cookie(&h), None);
    }

    #[test]
    fn a_state_changing_request_with_the_cookie_needs_the_header() {
        let cookie = ("cookie", "__Host-iro-advice-refresh=tok");
        assert!(forged(&Method::POST, &headers(&[cookie])));
        assert!(forged(
            &Method::DELETE,
            &headers(&[cookie, (CLIENT_HEADER, "cli")])
        ));
        assert!(!forged(
            &Method::POST,
            &headers(&[cookie, (CLIENT_HEADER, "web")])
        ));
        assert!(!forged(&Method::GET, &headers(&[cookie])));
        assert!(!forged(&Method::POST, &headers(&[])));
    }
}
