//! Authentication: password hashing and access tokens. Authorization rules live in
//! `domain::access`; the extractor that turns a bearer token into an actor is in `http`.

pub mod federated;
pub mod jwt;
pub mod password;
pub mod secret;
