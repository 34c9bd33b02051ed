//! `orx-fake-agent`: the fake engine's agent process on its own.
//!
//! A fake run starts one agent process per call, and `orx __fake-agent` does the same job from
//! the whole orx binary, whose start (mapping and relocating it) costs about twice what the
//! step itself does. The fake engine runs this small binary when it sits next to `orx` (as
//! `cargo build` and `cargo install` leave it), and falls back to `orx __fake-agent` when it
//! does not.

fn main() {
    std::process::exit(orx::cli::fake_agent_binary_main());
}
