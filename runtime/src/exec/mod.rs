//! Executors: how a pass reaches a function. [`local`] calls a handler of this binary
//! in-process; a function of a synced app is reached over the Inngest protocol (its executor
//! comes with the protocol).

pub(crate) mod local;
