//! A command's result, as text for people or JSON for scripts.

use serde_json::Value;

use super::error::ClientError;

/// What a command prints: text for people, JSON with `--json`.
pub struct Output {
    pub text: String,
    pub json: Value,
}

impl Output {
    pub fn new(text: impl Into<String>, json: impl serde::Serialize) -> Result<Self, ClientError> {
        Ok(Output {
            text: text.into(),
            json: serde_json::to_value(json).map_err(|e| ClientError::Profile(e.to_string()))?,
        })
    }
}
