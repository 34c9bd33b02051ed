//! `orx run` with each real CLI as the engine (filled in below).
