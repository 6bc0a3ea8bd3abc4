//! NAIRO's statistics request as its query string arrives: no panic; whatever is accepted
//! names a range of at most ten years, from before to; months and periods read back as
//! they are written.
#![no_main]

use iro_advice_server::statistics::handlers::{AccessParams, MAX_MONTHS};
use iro_advice_model::period::{Month, Period};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Ok(params) = serde_urlencoded::from_str::<AccessParams>(text) {
        if let Ok((request, _)) = params.parse() {
            assert!(request.from <= request.to);
            assert!(request.from.span(request.to) <= MAX_MONTHS);
        }
    }
    if let Ok(month) = text.parse::<Month>() {
        assert_eq!(month.to_string(), text);
    }
    if let Ok(period) = text.parse::<Period>() {
        assert_eq!(period.key, text);
    }
});
