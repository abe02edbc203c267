//! gongkai — government information disclosure applications (政府信息公开申请) and the
//! statutory yearly report, as a REST API.
//!
//! Layers: `http` → `app` → `domain`, and `app` → `db`. See docs/ARCHITECTURE.md.

pub mod app;
pub mod auth;
pub mod blobstore;
pub mod clock;
pub mod config;
pub mod db;
pub mod domain;
pub mod error_codes;
pub mod http;
pub mod netaddr;
pub mod startup;
pub mod telemetry;
