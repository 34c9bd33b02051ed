"""The cost of finding strays, mode against mode, in one binary: the bench-1 happy path (fake
engine, one item, gate `true`, full pipeline) run with each stray-tracking mode orx can use here
(`ORX_STRAY_TRACKING` unset = the best this machine offers; `=subreaper`; `=scan`, the behaviour
before cgroups and the subreaper were used), rounds interleaved. Reports per mode the median wall
time, orx's own CPU (`metrics/run.json` -> `process`), the other processes' environments orx read
(`metrics/run.json` -> `strays`) and, when `strace` is installed, one traced run's opens of
`/proc/<pid>/...` files of other processes. Not one of the six: run it by hand,
`python3 bench/strays.py [ROUNDS]` (ORX_BIN as for the others). Prints; writes no result file.
"""

import json
import os
import re
import shutil
import sys

import common as c

MODES = [None, "subreaper", "scan"]


def run_once(orx, repo, scenario, mode, strace_out=None):
    env = c.env_for_orx()
    env.pop("ORX_STRAY_TRACKING", None)
    if mode:
        env["ORX_STRAY_TRACKING"] = mode
    cmd = [orx, "run", "Write hello.txt", "--scenario", str(scenario), "--no-progress",
           "--pipeline", "full"]
    if strace_out:
        cmd = ["strace", "-f", "-qq", "-e", "trace=openat", "-o", str(strace_out)] + cmd
    before = c.run_names(repo)
    wall, code, _ = c.timed(cmd, cwd=repo, env=env)
    new = sorted(c.run_names(repo) - before)
    if code != 0 or len(new) != 1:
        raise SystemExit(f"orx run failed in mode {mode or 'default'} (exit {code})")
    rid = new[0]
    metrics = json.loads((repo / "runs" / rid / "metrics" / "run.json").read_text())
    c.sh(["git", "worktree", "remove", "--force", f".worktrees/{rid}"], cwd=repo, check=False)
    c.sh(["git", "branch", "-D", f"orx/{rid}"], cwd=repo, check=False)
    p = metrics["process"]
    return wall, (p["user_ms"] + p["sys_ms"]) / 1000, metrics["strays"]


def proc_opens(trace):
    """Opens of another process's /proc files in an strace log: (environ, stat, other)."""
    counts = {"environ": 0, "stat": 0, "other": 0}
    for line in trace.read_text().splitlines():
        m = re.search(r'openat\([^"]*"/proc/(\d+)/([^"]*)"', line)
        if not m or m.group(1) == line.split()[0]:
            continue
        kind = m.group(2) if m.group(2) in ("environ", "stat") else "other"
        counts[kind] += 1
    return counts


def main(rounds):
    orx = c.orx_bin()
    have_strace = shutil.which("strace") is not None
    procs = sum(1 for n in os.listdir("/proc") if n.isdigit())
    with c.TempDir("strays") as tmp:
        repo = c.init_repo(tmp / "repo", config=c.FAKE_CONFIG)
        scenario = tmp / "scenario.yaml"
        scenario.write_text(c.ONE_ITEM_SCENARIO)
        for m in MODES:
            run_once(orx, repo, scenario, m)  # warm-up
        walls = {m: [] for m in MODES}
        cpus = {m: [] for m in MODES}
        seen = {}
        for i in range(rounds):
            order = MODES if i % 2 == 0 else list(reversed(MODES))
            for m in order:
                wall, cpu, strays = run_once(orx, repo, scenario, m)
                walls[m].append(wall)
                cpus[m].append(cpu)
                seen[m] = strays
        traced = {}
        if have_strace:
            for m in MODES:
                out = tmp / f"trace-{m or 'default'}.txt"
                run_once(orx, repo, scenario, m, strace_out=out)
                traced[m] = proc_opens(out)
    print(f"\nstray tracking, {rounds} interleaved rounds, {procs} processes on the machine")
    for m in MODES:
        s = seen[m]
        line = (f"  {(m or 'default'):<10} mode {s['mode']:<9} wall {c.fmt_s(c.median(walls[m]))}"
                f"  orx CPU {c.fmt_s(c.median(cpus[m]))}  environ reads {s['environ_reads']}")
        if m in traced:
            t = traced[m]
            line += (f"  /proc/<other pid>/ opens: environ {t['environ']}, stat {t['stat']},"
                     f" other {t['other']}")
        print(line)
    return 0


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a.isdigit()]
    sys.exit(main(int(args[0]) if args else 12))
