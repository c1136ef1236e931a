//! The cut-over: `attempt` is one try (lock, marker, backlog, rename); the run decides when to try.

pub(crate) mod attempt;

pub(crate) use attempt::CutOver;
