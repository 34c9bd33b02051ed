"""Bench 8, orx's own cost per real agent call: Claude Code, Codex and Gemini CLI (the pinned
versions of conformance/install.sh, or $ORX_CONFORMANCE_BIN) against the loopback conformance
mock model server (tests/it/mock_server, started by the ignored test
conformance::bench_mock::serve_mock_for_bench, which also prepares each CLI's HOME as the
conformance tests do).

For each CLI, interleaved rounds of:
- orx: `orx run PROMPT --pipeline percall` in a repository whose one-stage pipeline [plan] is
  routed to the real CLI: one agent call, orx's whole run around it;
- alone: the CLI by itself, with the argv and the prompt orx gave it in an untimed first round
  (captured by a shim), the same environment and the same mock, its stdout kept in a file.
The cost of orx per call is the median of the per-round differences (orx - alone); target
<= 50 ms. Each orx round also reports how long orx's supervisor saw the CLI run
(metrics/stages.jsonl `duration_ms`), which splits the difference into time outside the CLI
(run set-up, checkpoints, finishing) and time the CLI itself took longer under orx.
The mock answers every model request with a short final text, so the CLI's own time is
mostly its start-up; both sides pay it alike.
"""

import json
import os
import shlex
import subprocess
import sys
import time
from pathlib import Path

import common as c

CLIS = ["claude", "codex", "gemini"]
PROMPT = "Say done."

CONFIG = """version: "1"
engine:
  type: {cli}
  timeout: 300
executors:
  {cli}:
    bin: {bin}
    default:
      model: {model}
git:
  base_branch: main
pipelines:
  percall: [plan]
gates:
  - name: ok
    command: "true"
"""

SHIM = """#!/bin/sh
# Records orx's argv and prompt for the CLI-alone side, then runs the real CLI.
for a in "$@"; do printf '%s\\0' "$a"; done > '{dir}/argv'
cat > '{dir}/prompt'
pwd > '{dir}/cwd'
exec '{real}' "$@" < '{dir}/prompt'
"""


def conformance_bin():
    d = os.environ.get("ORX_CONFORMANCE_BIN")
    if not d:
        d = subprocess.run([str(c.ROOT / "conformance" / "install.sh")], check=True,
                           stdout=subprocess.PIPE, text=True).stdout.strip()
    for cli in CLIS:
        if not (Path(d) / cli).exists():
            raise SystemExit(f"percall: {d} has no `{cli}`; run conformance/install.sh")
    return Path(d)


class Mock:
    """The conformance mock server, served by an ignored test until its stdin closes."""

    def __init__(self, tmp):
        self.dir = tmp / "mock"
        self.dir.mkdir()
        env = dict(os.environ, ORX_BENCH_MOCK_DIR=str(self.dir))
        self.log = open(tmp / "mock.log", "w")
        self.proc = subprocess.Popen(
            ["cargo", "test", "--quiet", "--test", "it", "--", "--ignored", "--exact",
             "conformance::bench_mock::serve_mock_for_bench", "--nocapture"],
            cwd=c.ROOT, env=env, stdin=subprocess.PIPE, stdout=self.log, stderr=subprocess.STDOUT)
        desc = self.dir / "mock.json"
        deadline = time.time() + 1800  # the test binary may need building first
        while not desc.exists():
            if self.proc.poll() is not None or time.time() > deadline:
                raise SystemExit(f"percall: the mock server did not start; see {tmp / 'mock.log'}")
            time.sleep(0.2)
        self.desc = json.loads(desc.read_text())

    def close(self):
        self.proc.stdin.close()
        self.proc.wait()
        self.log.close()


def stage_ms(repo, before):
    """The agent call's duration as orx's supervisor measured it, from the one run that is not
    in `before` (`common.run_names`)."""
    new = c.run_names(repo) - before
    if len(new) != 1:
        raise SystemExit(f"percall: expected one new run in {repo / 'runs'}, found {sorted(new)}")
    run = repo / "runs" / new.pop()
    for line in (run / "metrics" / "stages.jsonl").read_text().splitlines():
        m = json.loads(line)
        if m.get("executor"):
            return m["duration_ms"] / 1000, run.name
    raise SystemExit(f"percall: no agent call in {run}")


def clean_run(repo, rid):
    c.sh(["git", "worktree", "remove", "--force", f".worktrees/{rid}"], cwd=repo, check=False)
    c.sh(["git", "branch", "-D", f"orx/{rid}"], cwd=repo, check=False)


def one_cli(tmp, bindir, mock, cli, rounds):
    orx = c.orx_bin()
    spec = mock.desc["clis"][cli]
    env = dict(spec["env"])
    env["CI"] = "true"
    real = bindir / cli
    cap = tmp / f"capture-{cli}"
    cap.mkdir()
    shim = tmp / f"shim-{cli}.sh"
    shim.write_text(SHIM.format(dir=cap, real=real))
    shim.chmod(0o755)
    repo = tmp / f"repo-{cli}"
    c.init_repo(repo, config=CONFIG.format(cli=cli, bin=shim, model=spec["model"]))
    cmd = [orx, "run", PROMPT, "--pipeline", "percall", "--no-progress"]

    # Untimed first round through the shim: orx's argv and prompt for the CLI alone.
    before = c.run_names(repo)
    wall, code, _ = c.timed(cmd, cwd=repo, env=env)
    if code != 0:
        raise SystemExit(f"percall: orx with {cli} exited {code} (repo {repo})")
    clean_run(repo, stage_ms(repo, before)[1])
    argv = (cap / "argv").read_bytes().split(b"\0")[:-1]
    argv = [real] + [a.decode() for a in argv]
    prompt = (cap / "prompt").read_bytes()
    (repo / "orx.yaml").write_text(CONFIG.format(cli=cli, bin=real, model=spec["model"]))
    c.sh(["git", "commit", "-qam", "bench: the real CLI"], cwd=repo)
    alone_dir = c.init_repo(tmp / f"alone-{cli}")
    out_log = tmp / f"alone-{cli}.jsonl"

    def alone():
        t0 = time.perf_counter()
        with open(out_log, "wb") as out:
            p = subprocess.run(argv, cwd=alone_dir, env=env, input=prompt, stdout=out,
                               stderr=subprocess.DEVNULL)
        return time.perf_counter() - t0, p.returncode

    rows = {"orx": [], "alone": [], "diff": [], "in_call": [], "outside": []}
    alone()  # warms the CLI's files and the mock's connection handling, untimed
    for i in range(rounds):
        order = ["orx", "alone"] if i % 2 == 0 else ["alone", "orx"]
        got = {}
        for k in order:
            if k == "orx":
                before = c.run_names(repo)
                wall, code, _ = c.timed(cmd, cwd=repo, env=env)
                if code != 0:
                    raise SystemExit(f"percall: orx with {cli} exited {code} (repo {repo})")
                call_s, rid = stage_ms(repo, before)
                clean_run(repo, rid)
                got["orx"], got["call"] = wall, call_s
            else:
                wall, code = alone()
                if code != 0:
                    raise SystemExit(f"percall: {cli} alone exited {code}: {shlex.join(map(str, argv))}")
                got["alone"] = wall
        rows["orx"].append(got["orx"])
        rows["alone"].append(got["alone"])
        rows["diff"].append(got["orx"] - got["alone"])
        rows["in_call"].append(got["call"] - got["alone"])
        rows["outside"].append(got["orx"] - got["call"])
    med = {k: c.median(v) for k, v in rows.items()}
    return {"cli": cli, "rounds": rounds, "medians_s": med, "samples_s": rows,
            "argv": [str(a) for a in argv[1:]], "prompt_bytes": len(prompt)}


def main(smoke=False):
    rounds = 1 if smoke else 11
    bindir = conformance_bin()
    out = []
    with c.TempDir("percall") as tmp:
        mock = Mock(tmp)
        try:
            for cli in CLIS:
                r = one_cli(tmp, bindir, mock, cli, rounds)
                out.append(r)
                m = r["medians_s"]
                c.report(f"percall: {cli} against the mock, {rounds} interleaved rounds", [
                    ("orx run (one call)", c.fmt_s(m["orx"])),
                    (f"{cli} alone", c.fmt_s(m["alone"])),
                    ("orx's cost per call (median of differences)", c.fmt_s(m["diff"]) + " (target <= 50 ms)"),
                    ("  of which outside the CLI", c.fmt_s(m["outside"])),
                    ("  of which the CLI ran longer under orx", c.fmt_s(m["in_call"])),
                ])
        finally:
            mock.close()
    met = all(r["medians_s"]["diff"] <= 0.050 for r in out)
    return c.save("percall", {"smoke": smoke, "clis": out, "target": "orx's cost per call <= 50 ms",
                              "met": met})


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
