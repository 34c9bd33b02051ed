//! The run directory: layout, atomic writes, state, history, summary, lock and metrics.
//!
//! Everything orx persists about a run goes through this module, so the on-disk contract
//! lives in one place and every format is versioned.

pub mod atomic;
mod error;
pub mod events;
pub mod layout;
pub mod lock;
pub mod meta;
pub mod metrics;
pub mod state;
pub mod tail;

pub use error::StoreError;
pub use layout::{new_run_id, RunPaths};
pub use state::now_rfc3339;
