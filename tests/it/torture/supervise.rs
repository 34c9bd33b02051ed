//! Supervision campaign (placeholder, filled in below).
