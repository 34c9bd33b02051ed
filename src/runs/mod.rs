//! Run folders as a whole: which runs exist, removing one and measuring what that frees, the
//! age and retention policies that choose what to remove, and what runs leave behind (orphaned
//! worktrees, branches and refs, stray processes).
//!
//! It sits below `cli/`, `control/` and the runner, which all call it (`orx clean`, the
//! server's clean, `retention:` when a run starts, the leftovers hunt on resume), and depends
//! only on `error`, `git`, `store` and `exec`'s pidfds (to stop strays without racing their
//! exit). Every removal takes the run's lock first, so nothing here can pull a worktree from
//! under a live run: a busy run is skipped and reported.

pub mod list;
pub mod orphans;
pub mod remove;
pub mod retention;
pub mod strays;

pub use list::{is_run, list_runs, run_ids, RunInfo};
pub use orphans::{clean_orphans, Orphans};
pub use remove::{dir_size, remove_run, remove_runs, Removal};
pub use retention::{apply_retention, beyond_retention, older_than, parse_age};
pub use strays::stop_leftovers;
