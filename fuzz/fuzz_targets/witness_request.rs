//! The tlog-witness `add-checkpoint` body, which the witness reads from any log that can
//! reach it: no panic, no more proof lines than the spec allows, and a note that is the
//! request's remainder exactly.
#![no_main]

use iro_advice_tlog::witness::{AddCheckpoint, MAX_PROOF_LINES};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(request) = AddCheckpoint::parse(body) {
        assert!(request.proof.len() <= MAX_PROOF_LINES);
        assert!(body.ends_with(&request.note));
        assert!(request.note.ends_with('\n'));
        if let Some((text, signatures)) = request.split_note() {
            assert_eq!(format!("{text}\n{signatures}"), request.note);
        }
    }
});
