//! Every route's path, as the server mounts it and the clients call it. A path with a
//! parameter is a template (`{id}`); [`fill`] puts a value in it.

/// A path template with each `{name}` (or `{name:pattern}`) replaced, in order, by `values`.
pub fn fill(template: &str, values: &[&str]) -> String {
    let mut out = String::with_capacity(template.len() + 40);
    let mut values = values.iter();
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let close = rest[open..].find('}').map_or(rest.len(), |c| open + c + 1);
        out.push_str(values.next().copied().unwrap_or_default());
        rest = &rest[close..];
    }
    out.push_str(rest);
    out
}

// The service
pub const HEALTHZ: &str = "/healthz";
pub const READYZ: &str = "/readyz";
pub const OPENAPI: &str = "/api/v1/openapi.json";
pub const OPERATIONS: &str = "/api/v1/operations";

// The web application
pub const WEB_INDEX: &str = "/";
pub const WEB_OPEN: &str = "/open";
pub const WEB_ASSET: &str = "/assets/{file}";
pub const WEB_MANIFEST: &str = "/.well-known/iro-advice/web-manifest.json";

// Accounts and invitations
pub const ACCOUNTS: &str = "/api/v1/accounts";
pub const ACCOUNT_SUSPEND: &str = "/api/v1/accounts/{id}/suspend";
pub const ACCOUNT_REACTIVATE: &str = "/api/v1/accounts/{id}/reactivate";
pub const ACCOUNT_APPROVE: &str = "/api/v1/accounts/{id}/approve";
pub const ACCOUNT_VERIFY: &str = "/api/v1/accounts/{id}/verify";
pub const ACCOUNT_SECOND_FACTOR_RESET: &str = "/api/v1/accounts/{id}/second-factor/reset";
pub const INVITATIONS: &str = "/api/v1/invitations";

// Sessions
pub const LOGIN: &str = "/api/v1/auth/login";
pub const REFRESH: &str = "/api/v1/auth/refresh";
pub const LOGOUT: &str = "/api/v1/auth/logout";
pub const PASSKEY_SIGN_IN_OPTIONS: &str = "/api/v1/auth/passkey/options";

// The caller's own account
pub const ME: &str = "/api/v1/me";
pub const ME_TOTP: &str = "/api/v1/me/totp";
pub const ME_TOTP_CONFIRM: &str = "/api/v1/me/totp/confirm";
pub const ME_PASSKEYS: &str = "/api/v1/me/passkeys";
pub const ME_PASSKEY_OPTIONS: &str = "/api/v1/me/passkeys/options";
pub const ME_PASSKEY: &str = "/api/v1/me/passkeys/{id}";
pub const ME_SESSIONS: &str = "/api/v1/me/sessions";
pub const ME_SESSION: &str = "/api/v1/me/sessions/{id}";
pub const ME_STEP_UP_OPTIONS: &str = "/api/v1/me/step-up/options";
pub const ME_KEY: &str = "/api/v1/me/key";
pub const ME_PASSWORD: &str = "/api/v1/me/password";
pub const ME_LANGUAGE: &str = "/api/v1/me/language";
pub const ME_CONFLICTS: &str = "/api/v1/me/conflicts";
pub const ME_AVAILABILITY: &str = "/api/v1/me/availability";
pub const ME_RECEIPTS: &str = "/api/v1/me/receipts";
pub const ME_DIRECTORY: &str = "/api/v1/me/directory";

// The directory
pub const AUTHORITIES: &str = "/api/v1/authorities";
pub const ADVISERS: &str = "/api/v1/advisers";

// Queries
pub const QUERIES: &str = "/api/v1/queries";
pub const QUERY: &str = "/api/v1/queries/{id}";
pub const QUERY_ACCEPT: &str = "/api/v1/queries/{id}/accept";
pub const QUERY_DECLINE: &str = "/api/v1/queries/{id}/decline";
pub const QUERY_ROUTE: &str = "/api/v1/queries/{id}/route";
pub const QUERY_CLOSE: &str = "/api/v1/queries/{id}/close";
pub const QUERY_MESSAGES: &str = "/api/v1/queries/{id}/messages";
pub const QUERY_ATTACHMENTS: &str = "/api/v1/queries/{id}/attachments";
pub const QUERY_UPLOADS: &str = "/api/v1/queries/{id}/uploads";
pub const ATTACHMENT: &str = "/api/v1/attachments/{id}";
pub const UPLOAD: &str = "/api/v1/uploads/{id}";
pub const UPLOAD_COMPLETE: &str = "/api/v1/uploads/{id}/complete";

// Pressure reports
pub const PRESSURE_REPORTS: &str = "/api/v1/pressure-reports";
pub const NAIRO_RECIPIENT: &str = "/api/v1/nairo/recipient";

// The request log
pub const LOG_CHECKPOINT: &str = "/api/v1/log/checkpoint";
pub const LOG_KEY: &str = "/api/v1/log/key";
pub const LOG_TRUST: &str = "/api/v1/log/trust";
pub const LOG_INCLUSION: &str = "/api/v1/log/proof/inclusion";
pub const LOG_CONSISTENCY: &str = "/api/v1/log/proof/consistency";
pub const LOG_OPENINGS: &str = "/api/v1/log/openings";
pub const LOG_TILE: &str = "/api/v1/log/tile/{tile:.+}";

/// The paths whose parameter spans several segments (`{name:.+}`): OpenAPI writes them as
/// `{name}`, the router must match them whole.
pub const MULTI_SEGMENT: &[&str] = &[LOG_TILE];

// Statistics
pub const STATS_ACCESS: &str = "/api/v1/stats/access";
pub const STATS_RELEASES: &str = "/api/v1/stats/releases";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fill_replaces_each_parameter_in_order() {
        assert_eq!(fill(QUERY_ACCEPT, &["q1"]), "/api/v1/queries/q1/accept");
        assert_eq!(
            fill(LOG_TILE, &["0/x001/234"]),
            "/api/v1/log/tile/0/x001/234"
        );
        assert_eq!(fill(ME, &[]), ME);
    }
}
