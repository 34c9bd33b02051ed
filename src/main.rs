//! The `orx` binary: parse the command line, run it, map the outcome to an exit code.
//!
//! Everything lives in the library (`orx::cli`), so integration tests and the binary share one
//! code path; this file only turns the returned code into the process exit status.

fn main() {
    std::process::exit(orx::cli::main());
}
