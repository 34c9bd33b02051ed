"""Bench 5, idle cost: orx supervises an agent (a stand-in `claude`) that sleeps 30 s and then
answers. The CPU time orx itself used is `process.user_ms + sys_ms` from metrics/run.json
(getrusage RUSAGE_SELF: orx alone, not the agent, git or gates). The same run with a 0 s sleep
shows how much of it is the run's fixed work rather than waiting. Target: < 0.1 s.
Also `orx --version` start-up against `true`, medians of interleaved runs.
"""

import json
import sys

import common as c

CONFIG = """version: "1"
engine:
  type: fake
git:
  base_branch: main
executors:
  claude:
    bin: {agent}
stages:
  plan: {{executor: claude}}
pipelines:
  idle: [plan]
"""

RESULT = json.dumps({"type": "result", "subtype": "success", "is_error": False,
                     "duration_ms": 30000, "num_turns": 1, "result": "# Plan\n\nSlept.",
                     "session_id": "s1", "total_cost_usd": 0,
                     "usage": {"input_tokens": 1, "output_tokens": 1}})


def run_once(tmp, seconds):
    agent = tmp / f"sleeper-{seconds}.sh"
    agent.write_text(f"#!/bin/sh\ncat > /dev/null\nsleep {seconds}\nprintf '%s\\n' '{RESULT}'\n")
    agent.chmod(0o755)
    repo = c.init_repo(tmp / f"repo-{seconds}", config=CONFIG.format(agent=agent))
    wall, code, ru = c.timed([c.orx_bin(), "run", "sleep", "--pipeline", "idle", "--no-progress"],
                             cwd=repo)
    run = next((repo / "runs").iterdir())
    proc = json.loads((run / "metrics" / "run.json").read_text()).get("process") or {}
    cpu = (proc.get("user_ms", 0) + proc.get("sys_ms", 0)) / 1000
    with_children = ru.ru_utime + ru.ru_stime
    return {"sleep_s": seconds, "wall_s": wall, "exit": code, "orx_cpu_s": cpu,
            "orx_user_ms": proc.get("user_ms"), "orx_sys_ms": proc.get("sys_ms"),
            "cpu_with_children_s": with_children, "recorded": bool(proc)}


def main(smoke=False):
    sleep = 2 if smoke else 30
    reps = 10 if smoke else 50
    with c.TempDir("idle") as tmp:
        zero = run_once(tmp, 0)
        idle = run_once(tmp, sleep)
        orx, true = [], []
        for i in range(reps):
            for k in (("orx", "true") if i % 2 == 0 else ("true", "orx")):
                cmd = [c.orx_bin(), "--version"] if k == "orx" else ["true"]
                wall, _, _ = c.timed(cmd)
                (orx if k == "orx" else true).append(wall)
    mo, mt = c.median(orx), c.median(true)
    c.report(f"idle: orx supervising a {sleep} s sleep", [
        ("orx CPU (self)", f"{idle['orx_cpu_s'] * 1000:.0f} ms (user {idle['orx_user_ms']} ms, sys {idle['orx_sys_ms']} ms; target < 100 ms)"),
        ("same run, 0 s sleep", f"{zero['orx_cpu_s'] * 1000:.0f} ms"),
        ("idle part (difference)", f"{(idle['orx_cpu_s'] - zero['orx_cpu_s']) * 1000:.0f} ms"),
        ("CPU incl. children", f"{idle['cpu_with_children_s'] * 1000:.0f} ms"),
        ("wall", c.fmt_s(idle["wall_s"])),
        ("exit codes", f"{idle['exit']}, {zero['exit']}"),
    ])
    c.report(f"start-up: orx --version vs true ({reps} interleaved pairs)", [
        ("orx --version", c.fmt_s(mo)), ("true", c.fmt_s(mt)), ("ratio", f"{mo / mt:.2f}x"),
    ])
    ok = idle["exit"] == 0 and zero["exit"] == 0 and idle["recorded"]
    return c.save("idle", {
        "smoke": smoke, "idle": idle, "zero": zero,
        "startup": {"pairs": reps, "orx_median_s": mo, "true_median_s": mt, "ratio": mo / mt,
                    "orx_samples_s": orx, "true_samples_s": true},
        "target": "orx CPU < 0.1 s while supervising a 30 s sleep",
        "met": ok and idle["orx_cpu_s"] < 0.1,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
