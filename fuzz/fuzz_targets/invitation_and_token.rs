//! What a stranger may present to get in: an invitation's code as a person types it, and a
//! bearer token. No panic; a code that parses is ten Crockford characters shown as
//! `XXXXX-XXXXX` and reads back as itself; no made-up token verifies.
#![no_main]

use std::sync::OnceLock;

use iro_advice_server::accounts::invitations::InvitationCode;
use iro_advice_server::accounts::tokens::TokenKeys;
use iro_advice_server::keys::Keys;
use libfuzzer_sys::fuzz_target;

fn token_keys() -> &'static TokenKeys {
    static K: OnceLock<TokenKeys> = OnceLock::new();
    K.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("iro-advice-fuzz-keys-{}", std::process::id()));
        let keys = Keys::load_or_create(&dir).expect("keys");
        TokenKeys::new(&keys, "https://iro-advice.example", 15)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Some(code) = InvitationCode::parse(text) {
        let shown = code.as_str();
        assert_eq!(shown.len(), 11);
        assert_eq!(shown.as_bytes()[5], b'-');
        assert_eq!(InvitationCode::parse(shown), Some(code.clone()));
    }
    assert!(token_keys().verify(text).is_none(), "a made-up token verified");
});
