//! Shared helpers for hookflow integration tests.

pub mod postgres;
pub mod workers;
