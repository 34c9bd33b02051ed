//! Concurrency campaign (placeholder, filled in below).
