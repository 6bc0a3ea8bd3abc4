//! The web application: the pages IROs and advisers use, built from `web/` into `web/dist/`
//! and embedded here, so that the binary serves exactly the committed bundle (CI rebuilds it
//! and fails on any byte that differs). Everything is encrypted and decrypted in the page; the
//! service only hands out the files, under a policy that lets them load nothing else.

pub mod assets;
pub mod handlers;
pub mod publish;

pub use assets::{Asset, Bundle, ASSETS};
pub use iro_advice_api::web::Manifest;
