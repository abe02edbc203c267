//! The law, pure: no HTTP, no SQL, no clock reads. "Today" is always a parameter.
//!
//! A test (`tests/architecture.rs`) keeps actix, diesel, jsonwebtoken and utoipa out of here.

pub mod access;
pub mod agency;
pub mod calendar;
pub mod clock;
pub mod disposition;
pub mod document;
pub mod fees;
pub mod identity;
pub mod letterhead;
pub mod notice;
pub mod office;
pub mod remedy;
pub mod report;
pub mod request;
pub mod stored;
pub mod text;
pub mod user;
pub mod validation;
