//! The step tool. (Engine integration lands with the engine.)

/// The step tool a function receives: memoized, retried, durable steps.
#[derive(Debug, Clone)]
pub struct Step {}
