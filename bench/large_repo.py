"""Bench 4, large repository: a synthetic repository of 100,000 files (1,000 folders of 100
small files). Measured side by side, interleaved:

- orx: `orx run --pipeline fast-fix` on the fake engine, touching one file, gate `true`;
- by hand: the bench-1 script (git worktree add, write, gate, commit, git diff, worktree remove).

The target compares the comparable part: orx's worktree creation (process start until its first
stage starts, taken from events.jsonl) plus its final diff (the ship stage, which writes
artifacts/patch.diff), against `git worktree add` plus `git diff base HEAD` timed by hand.
End to end is reported too. A shim `git` on PATH, in one extra untimed run, lists every git call
orx makes and its duration, which is where the difference comes from. Target: <= 1.1x.
"""

import json
import shutil
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import common as c
import overhead

SCENARIO = """implement:
  default: {files: {"d0000/new.txt": "one new file\\n"}}
review:
  text: |
    Fine.
    ```json
    {"verdict": "approved", "summary": "one file"}
    ```
knowledge_update: {text: "Nothing to record."}
"""

SHIM = """#!/bin/bash
s=$EPOCHREALTIME
{git} "$@"
rc=$?
printf '%s %s %s\\n' "$s" "$EPOCHREALTIME" "$*" >> {log}
exit $rc
"""


def make_repo(path, files):
    path.mkdir(parents=True)
    per = 100
    for d in range(files // per):
        sub = path / f"d{d:04d}"
        sub.mkdir()
        for f in range(per):
            (sub / f"f{f:03d}.txt").write_text(f"file {d}/{f}\n")
    c.init_repo(path, config=c.FAKE_CONFIG)


def epoch(ts):
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%f%z").timestamp()


def orx_phases(run_dir, t_start):
    """Seconds of (setup until the first stage starts, ship stage) from the run's events."""
    first_stage = ship_start = ship_end = None
    for line in open(run_dir / "events.jsonl"):
        e = json.loads(line)
        if e["event"] == "stage_started" and first_stage is None:
            first_stage = epoch(e["ts"])
        if e["event"] == "stage_started" and e.get("stage") == "ship":
            ship_start = epoch(e["ts"])
        if e["event"] == "stage_finished" and e.get("stage") == "ship":
            ship_end = epoch(e["ts"])
    return first_stage - t_start, ship_end - ship_start


def by_hand(repo, tag):
    """`git worktree add` and `git diff base HEAD` timed by hand (commit in between untimed)."""
    wt = repo / ".worktrees" / f"hand-{tag}"
    w0 = time.perf_counter()
    c.sh(["git", "worktree", "add", "-q", "-b", f"hand/{tag}", str(wt), "main"], cwd=repo)
    add = time.perf_counter() - w0
    (wt / "d0000" / "new.txt").write_text("one new file\n")
    c.sh(["git", "add", "-A"], cwd=wt)
    c.sh(["git", "commit", "-q", "-m", "one file"], cwd=wt)
    d0 = time.perf_counter()
    subprocess.run(["git", "diff", "main", "HEAD"], cwd=wt, check=True, stdout=subprocess.DEVNULL,
                   env=c.env_for_orx())
    diff = time.perf_counter() - d0
    c.sh(["git", "worktree", "remove", "--force", str(wt)], cwd=repo)
    c.sh(["git", "branch", "-D", f"hand/{tag}"], cwd=repo)
    return add, diff


def git_breakdown(repo, tmp, scenario):
    real = shutil.which("git")
    shim_dir = tmp / "shim"
    shim_dir.mkdir()
    log = tmp / "git.log"
    (shim_dir / "git").write_text(SHIM.format(git=real, log=log))
    (shim_dir / "git").chmod(0o755)
    env = c.env_for_orx()
    env["PATH"] = f"{shim_dir}:{env['PATH']}"
    _, code, _ = c.timed([c.orx_bin(), "run", "touch one file", "--scenario", str(scenario),
                          "--pipeline", "fast-fix", "--no-progress"], cwd=repo, env=env)
    calls = {}
    for line in log.read_text().splitlines():
        s, e, *argv = line.split(" ")
        sub = next((a for a in argv if not a.startswith("-") and "=" not in a), "?")
        n, t = calls.get(sub, (0, 0.0))
        calls[sub] = (n + 1, t + float(e) - float(s))
    out = {k: {"calls": n, "seconds": t} for k, (n, t) in
           sorted(calls.items(), key=lambda kv: -kv[1][1])}
    return out, code


def main(smoke=False):
    files = 2_000 if smoke else 100_000
    pairs = 1 if smoke else 3
    with c.TempDir("large-repo") as tmp:
        t0 = time.perf_counter()
        repo = tmp / "repo"
        make_repo(repo, files)
        made = time.perf_counter() - t0
        scenario = tmp / "scenario.yaml"
        scenario.write_text(SCENARIO)
        script = tmp / "baseline.sh"
        script.write_text(overhead.BASELINE.replace("hello.txt", "d0000/new.txt"))
        orx_e2e, base_e2e, orx_part, hand_part, phases, failures = [], [], [], [], [], 0
        for i in range(pairs):
            for k in (("orx", "base", "hand") if i % 2 == 0 else ("hand", "base", "orx")):
                if k == "orx":
                    before = c.run_names(repo)
                    start = time.time()
                    wall, code, _ = c.timed([c.orx_bin(), "run", "touch one file", "--scenario",
                                             str(scenario), "--pipeline", "fast-fix",
                                             "--no-progress"], cwd=repo)
                    failures += code != 0
                    rid = (c.run_names(repo) - before).pop()
                    setup, ship = orx_phases(repo / "runs" / rid, start)
                    phases.append({"setup_s": setup, "ship_s": ship})
                    orx_part.append(setup + ship)
                    orx_e2e.append(wall)
                    overhead.cleanup(repo, rid)
                elif k == "base":
                    wall, code, _ = c.timed(["bash", str(script), f"b{i}", str(tmp)], cwd=repo)
                    c.sh(["git", "branch", "-D", f"base/b{i}"], cwd=repo, check=False)
                    base_e2e.append(wall)
                else:
                    add, diff = by_hand(repo, f"h{i}")
                    hand_part.append(add + diff)
        breakdown, breakdown_exit = git_breakdown(repo, tmp, scenario)
    mo, mh = c.median(orx_part), c.median(hand_part)
    me, mb = c.median(orx_e2e), c.median(base_e2e)
    c.report(f"large repo: {files} files (made in {made:.0f} s), {pairs} interleaved rounds", [
        ("orx setup + ship (diff)", c.fmt_s(mo)),
        ("git worktree add + git diff", c.fmt_s(mh)),
        ("ratio (target <= 1.1x)", f"{mo / mh:.2f}x"),
        ("orx run end to end", c.fmt_s(me)),
        ("script end to end", c.fmt_s(mb)),
        ("end-to-end ratio", f"{me / mb:.2f}x"),
        ("orx failures", str(failures)),
    ])
    print(f"  git calls in one orx run (count, total; that run exited {breakdown_exit}):")
    for k, v in list(breakdown.items())[:8]:
        print(f"    {k:<14} {v['calls']:>3}  {c.fmt_s(v['seconds'])}")
    return c.save("large_repo", {
        "smoke": smoke, "files": files, "pairs": pairs, "repo_build_s": made,
        "orx_part_median_s": mo, "by_hand_median_s": mh, "ratio": mo / mh,
        "orx_e2e_median_s": me, "script_e2e_median_s": mb, "ratio_e2e": me / mb,
        "orx_phases": phases, "by_hand_samples_s": hand_part, "orx_failures": failures, "git_calls": breakdown,
        "git_calls_run_exit": breakdown_exit,
        "target": "orx worktree creation + final diff <= 1.1x git worktree add + git diff",
        "met": failures == 0 and mo / mh <= 1.1,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
