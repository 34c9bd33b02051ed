#!/usr/bin/env python3
"""Create COUNT realistic, finished-looking run folders under REPO_ROOT/runs, quickly.

    bench/seed_runs.py REPO_ROOT COUNT

Each run gets what a real fake-engine run leaves: meta.json, a state.json that `orx status <id>`
parses (same shape as orx writes, version 1), a few lines in events.jsonl, metrics/run.json and
stages.jsonl, context/task.md and a small agent log. Statuses mix succeeded, failed,
budget_exceeded and interrupted ("running" without a lock holder), ids sort by creation time
and never collide with real ones (their suffix starts with "5eed"). Standard library only; the
serve load benchmark reuses this with exactly this interface. Prints the ids' range.
"""

import json
import os
import sys
from datetime import datetime, timedelta, timezone

STATUSES = ["succeeded"] * 6 + ["failed"] * 2 + ["budget_exceeded", "running"]
STAGES = ["plan", "spec", "decompose", "implement", "verify", "review", "ship", "knowledge"]


def ts(t):
    return t.strftime("%Y-%m-%dT%H:%M:%S.") + f"{t.microsecond // 1000:03d}Z"


def usage(i):
    return {"input_tokens": 1000 + i % 900, "output_tokens": 100 + i % 97,
            "cache_read_tokens": 0, "cache_write_tokens": 0,
            "cost_usd": round(0.001 * (i % 50), 4), "cost_estimated": False}


def write(path, text):
    with open(path, "w") as f:
        f.write(text)


def one_run(runs, n, t0):
    created = t0 + timedelta(seconds=37 * n)
    run_id = created.strftime("%Y%m%d-%H%M%S") + f"-{0x5eed00 + (n % 0xff):06x}"
    status = STATUSES[n % len(STATUSES)]
    finished = created + timedelta(seconds=20 + n % 300)
    done = status != "running"
    failed_at = 4 if status == "failed" else (2 if status == "budget_exceeded" else None)
    stop = failed_at if failed_at is not None else (5 if status == "running" else len(STAGES))
    task = f"Seeded task {n}: add a --json flag to the status command of module {n % 97}"
    branch = f"orx/{run_id}"
    d = os.path.join(runs, run_id)
    for sub in ("", "context", "logs", "metrics"):
        os.makedirs(os.path.join(d, sub), exist_ok=True)
    meta = {
        "version": 1, "run_id": run_id, "task": task, "status": status,
        "stage": None if status == "succeeded" else STAGES[min(stop, len(STAGES) - 1)],
        "item": None if status == "succeeded" else "W001",
        "branch": branch, "base_branch": "main", "engine": "fake", "pipeline": "full",
        "created_at": ts(created), "updated_at": ts(finished),
        "finished_at": ts(finished) if done else None, "orx_version": "0.1.0",
    }
    stages = []
    for k, name in enumerate(STAGES[: stop + (1 if failed_at is not None or not done else 0)]):
        st = "done" if k < stop else ("failed" if done else "running")
        s_start = created + timedelta(seconds=2 * k)
        stages.append({"stage": name, "status": st, "started_at": ts(s_start),
                       "finished_at": ts(s_start + timedelta(seconds=2)) if st != "running" else None,
                       "attempts": 1, "duration_ms": 1500 + k, "usage": usage(n + k)})
    gate = {"name": "ok", "required": True, "passed": status != "failed", "exit_code":
            0 if status != "failed" else 1, "duration_ms": 12, "log": "logs/ok_W001_1.log",
            "tail": "" if status != "failed" else "FAILED test_x", "failures": [],
            "signature": None, "error": None}
    item = {"id": "W001", "title": "Add the flag", "objective": task, "acceptance": ["it works"],
            "files_hint": ["src/cli/status.rs"], "depends_on": [],
            "status": "done" if status == "succeeded" else ("failed" if done else "in_progress"),
            "attempts": 1, "phase": None, "base_commit": "0" * 40, "snapshot": None,
            "commit": ("1" * 40) if status == "succeeded" else None, "signatures": [],
            "gates": [gate], "fix_budget_start": 0, "review_round": 0, "note": None}
    failure = None
    if status in ("failed", "budget_exceeded"):
        failure = {"stage": STAGES[stop], "item": "W001",
                   "reason": "gate_failed" if status == "failed" else "budget_exceeded",
                   "message": "gate ok failed" if status == "failed" else "run.max_tokens 500 reached",
                   "at": ts(finished)}
    state = {
        "version": 1, "run_id": run_id, "task": task, "status": status, "pipeline": "full",
        "stages": stages,
        "current_stage": None if status == "succeeded" else STAGES[min(stop, len(STAGES) - 1)],
        "current_item": None if status == "succeeded" else "W001",
        "items": [item],
        "worktree": {"path": f"/nonexistent/.worktrees/{run_id}", "branch": branch,
                     "base_branch": "main", "base_sha": "0" * 40},
        "engine": "fake", "model": None, "config_path": None, "scenario": None,
        "sessions": {}, "usage": usage(n), "decompose_attempts": 1, "review_rounds": 1,
        "review_summary": None, "last_failure": failure, "created_at": ts(created),
        "updated_at": ts(finished), "finished_at": ts(finished) if done else None,
        "resumes": 0, "session_meta": {}, "fallbacks": [],
        "ship": {"remote": None, "pushed_sha": None, "pr_url": None},
        "worktree_setup_done": True,
    }
    events = []
    for seq, (kind, extra) in enumerate(
            [("run_started", {"task": task, "engine": "fake", "pipeline": "full", "branch": branch,
                              "base_branch": "main"}),
             ("stage_started", {"stage": "plan"}),
             ("stage_finished", {"stage": "plan", "status": "done", "duration_ms": 1500}),
             ("run_finished", {"status": status, "duration_ms": 20000})], start=1):
        if kind == "run_finished" and not done:
            break
        e = {"seq": seq, "ts": ts(created + timedelta(seconds=seq)), "run_id": run_id, "event": kind}
        e.update(extra)
        events.append(json.dumps(e))
    write(os.path.join(d, "meta.json"), json.dumps(meta, indent=2))
    write(os.path.join(d, "state.json"), json.dumps(state, indent=2))
    write(os.path.join(d, "events.jsonl"), "\n".join(events) + "\n")
    write(os.path.join(d, "context", "task.md"), task + "\n")
    write(os.path.join(d, "logs", "agent_plan.jsonl"),
          json.dumps({"type": "text", "text": "# Plan\n\nSeeded."}) + "\n")
    write(os.path.join(d, "metrics", "stages.jsonl"), "".join(
        json.dumps({"stage": s["stage"], "item": None, "attempt": 1, "status": s["status"],
                    "started_at": s["started_at"], "duration_ms": s["duration_ms"],
                    "executor": "fake", "model": None, "usage": s["usage"]}) + "\n" for s in stages))
    write(os.path.join(d, "metrics", "run.json"), json.dumps(
        {"version": 1, "run_id": run_id, "status": status, "usage": usage(n),
         "created_at": ts(created), "finished_at": meta["finished_at"], "resumes": 0,
         "stages": [], "items": []}))
    return run_id


def main(argv):
    if len(argv) != 3 or not argv[2].isdigit():
        sys.stderr.write("usage: seed_runs.py REPO_ROOT COUNT\n")
        return 2
    runs = os.path.join(argv[1], "runs")
    os.makedirs(runs, exist_ok=True)
    count = int(argv[2])
    t0 = datetime(2025, 1, 1, tzinfo=timezone.utc)
    ids = [one_run(runs, n, t0) for n in range(count)]
    if ids:
        print(f"seeded {count} runs in {runs}: {ids[0]} .. {ids[-1]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
