//! Shared helpers for hookflow integration tests.

pub mod http;
pub mod postgres;
pub mod workers;
