//! The age-format check every `body`, `narrative` and `wrapped_identity` passes through:
//! whatever a client sends is refused or accepted without a panic; what is accepted is kept
//! byte for byte, and a file is never both content for recipients and a wrapped identity.
#![no_main]

use iro_advice_model::ciphertext::{AgeArmored, PassphraseWrapped};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let content = AgeArmored::parse(text);
    if let Ok(armored) = &content {
        assert!(armored.recipients() >= 1);
        assert_eq!(armored.as_str(), text);
    }
    if let Ok(wrapped) = PassphraseWrapped::parse(text) {
        assert_eq!(wrapped.as_str(), text);
        assert!(content.is_err(), "a passphrase stanza passed as content");
    }
});
