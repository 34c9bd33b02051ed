//! The conformance mock as a standing server for `bench/percall.py`, which times real CLI calls
//! with and without orx against it. Not a test of orx: it is `#[ignore]`d and only does
//! anything with `ORX_BENCH_MOCK_DIR` set. It starts the mock with an empty script (every model
//! request gets the default final text), prepares a HOME for Claude Code, Codex and Gemini CLI
//! exactly as the conformance tests do ([`Cli::prepare`]), writes what the bench needs to
//! `<dir>/mock.json` (the server's URL, each CLI's environment and documented argv) and serves
//! until its standard input closes, which is how the bench stops it.

use std::io::Read;
use std::path::PathBuf;

use serde_json::{json, Map, Value};

use super::{Cli, Sandbox};

#[test]
#[ignore = "a fixture for bench/percall.py: serves the mock until stdin closes"]
fn serve_mock_for_bench() {
    let Some(dir) = std::env::var_os("ORX_BENCH_MOCK_DIR").map(PathBuf::from) else {
        eprintln!("SKIPPED: ORX_BENCH_MOCK_DIR is not set (bench/percall.py sets it)");
        return;
    };
    let sb = Sandbox::new();
    let server = sb.server(Vec::new());
    let mut clis = Map::new();
    for cli in [Cli::Claude, Cli::Codex, Cli::Gemini] {
        let home = dir.join(cli.name()).join("home");
        std::fs::create_dir_all(&home).expect("the CLI's HOME");
        let env: Map<String, Value> = cli
            .prepare(&home, &server)
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect();
        let last = dir.join(cli.name()).join("last_message.md");
        clis.insert(
            cli.name().to_string(),
            json!({"env": env, "argv": cli.argv(&last, None), "model": cli.model()}),
        );
    }
    let desc = json!({"url": server.url(), "clis": clis});
    // Written under another name and renamed, so the bench never reads half a file.
    let tmp = dir.join("mock.json.tmp");
    std::fs::write(&tmp, desc.to_string()).expect("write mock.json");
    std::fs::rename(&tmp, dir.join("mock.json")).expect("rename mock.json");
    let _ = std::io::stdin().read_to_end(&mut Vec::new());
    drop(server);
}
