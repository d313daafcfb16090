//! Shared helpers for hookflow integration tests.
