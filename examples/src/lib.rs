//! hookflow examples.
