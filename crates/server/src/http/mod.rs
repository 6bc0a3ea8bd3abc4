//! The HTTP edge: the state every handler reaches, the one authorisation mechanism every
//! route passes ([`access`]), the route table ([`routes`]), the translation of every error
//! into `application/problem+json` ([`error`]), the OpenAPI document, and the server.

pub mod access;
pub mod error;
pub mod health;
pub mod monitoring;
pub mod openapi;
pub mod reference;
pub mod routes;
pub mod server;
pub mod state;
pub mod typescript;
