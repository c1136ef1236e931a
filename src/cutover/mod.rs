//! The cut-over, in two parts kept apart: the `gate` decides when an attempt may start (backoff,
//! postpone flag, throttle, backlog); the `attempt` is one try (lock, marker, backlog, rename) that either
//! swaps the tables or leaves the original in place.

pub(crate) mod attempt;
pub(crate) mod gate;

pub(crate) use attempt::{CutOver, CutOverReport};
