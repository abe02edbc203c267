//! Integration tests through HTTP against a real database (SQLite always; PostgreSQL when
//! GONGKAI_TEST_DATABASE_URL names a server). One binary, one module per capability.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod contract;
mod helpers;

mod auth;
mod bulk;
mod calendar;
mod clock;
mod cost;
mod documents;
mod errors;
mod federated;
mod foundation;
mod hardening;
mod idempotency;
mod letterheads;
mod migrations;
mod notice_render;
mod notices;
mod office;
mod openapi;
mod platform;
mod records;
mod refresh_tokens;
mod remedies;
mod report_cells;
mod report_storage;
mod reports;
mod requests;
mod seed;
mod smtp;
mod webhooks;
mod write_scope;
