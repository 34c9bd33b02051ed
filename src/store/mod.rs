//! The run directory: layout, atomic writes, state, history, summary, lock and metrics.
//!
//! Everything orx persists about a run goes through this module, so the on-disk contract
//! lives in one place and every format is versioned.
//!
//! Durability is paid where resume needs it and nowhere else: checkpoints append to the state
//! journal (`journal`, one `fdatasync` for a checkpoint resume needs, none for a progress note,
//! made on a thread of its own: `syncer`) and `state.json` is compacted from it when the
//! driving process exits; files derived from the state (`meta.json`, `metrics/run.json`) are
//! replaced whole without fsync. Every sync goes through `fsync`, which counts them for the run
//! metrics.

pub mod atomic;
mod error;
pub mod events;
pub mod fsync;
mod indent;
pub mod journal;
pub mod layout;
pub mod lock;
pub mod meta;
pub mod metrics;
pub mod state;
mod syncer;
pub mod tail;

pub use error::StoreError;
pub use layout::{new_run_id, RunPaths};
pub use state::now_rfc3339;
