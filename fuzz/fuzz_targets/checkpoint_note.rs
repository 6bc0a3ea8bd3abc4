//! Checkpoints and signed notes as a witness, a monitor or `log verify` reads them from an
//! untrusted log: no panic, a parsed checkpoint writes back as the text it was read from,
//! and no note opens under a key that did not sign it.
#![no_main]

use std::sync::OnceLock;

use iro_advice_tlog::note::{open_checkpoint, verifier_key_of, Checkpoint, Verifier};
use libfuzzer_sys::fuzz_target;

fn verifier() -> &'static Verifier {
    static V: OnceLock<Verifier> = OnceLock::new();
    // Ed25519 (type 1) with a public key nobody holds the private half of.
    V.get_or_init(|| {
        Verifier::parse(&verifier_key_of("example.org/log", 1, &[7u8; 32])).expect("a key")
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(checkpoint) = Checkpoint::parse(text) {
        let again = Checkpoint::parse(&checkpoint.text()).expect("its own text parses");
        assert_eq!(again, checkpoint);
    }
    let _ = Verifier::parse(text);
    assert!(verifier().open(text).is_err(), "a note opened without its signature");
    assert!(open_checkpoint(verifier(), text).is_err());
});
