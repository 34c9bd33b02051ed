#!/usr/bin/env python3
"""Seed REPO_ROOT/runs/ with N synthetic finished runs (meta.json, state.json, events.jsonl).

    python3 bench/seed_runs.py REPO_ROOT N

For load checks of `orx status`, `orx serve` and the dashboard: the files have the shapes orx
writes (state version 1), with varied statuses, engines and tasks, ids sortable by time.
Existing runs are left alone; ids never collide with real ones (suffix 'seed..').
"""
import json
import os
import sys
import time

STAGES = ["plan", "spec", "decompose", "implement", "verify", "review", "ship", "knowledge"]
STATUSES = ["succeeded", "succeeded", "succeeded", "failed", "interrupted", "budget_exceeded"]
ENGINES = ["fake", "claude", "codex", "gemini", "cursor"]


def iso(t):
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(t)) + ".000Z"


def main():
    if len(sys.argv) != 3:
        sys.exit("usage: seed_runs.py REPO_ROOT N")
    root, n = sys.argv[1], int(sys.argv[2])
    runs = os.path.join(root, "runs")
    os.makedirs(runs, exist_ok=True)
    t0 = time.time() - n * 60
    for i in range(n):
        t = t0 + i * 60
        rid = time.strftime("%Y%m%d-%H%M%S", time.gmtime(t)) + "-seed%02x" % (i % 256)
        d = os.path.join(runs, rid)
        if os.path.exists(d):
            continue
        os.makedirs(d)
        status = STATUSES[i % len(STATUSES)]
        engine = ENGINES[i % len(ENGINES)]
        task = f"seeded task {i}: add a --json flag to command {i % 97}"
        created, finished = iso(t), iso(t + 42)
        usage = {"input_tokens": 1000 + i % 500, "output_tokens": 200, "cache_read_tokens": 0,
                 "cache_write_tokens": 0, "cost_usd": 0.01, "cost_estimated": False}
        stages = [{"stage": s, "status": "done" if status == "succeeded" else "pending",
                   "started_at": created, "finished_at": finished, "attempts": 1,
                   "duration_ms": 5000, "usage": usage} for s in STAGES]
        meta = {"version": 1, "run_id": rid, "task": task, "status": status,
                "stage": None if status == "succeeded" else "implement", "item": None,
                "branch": f"orx/{rid}", "base_branch": "main", "engine": engine,
                "pipeline": "full", "created_at": created, "updated_at": finished,
                "finished_at": finished, "orx_version": "0.1.0"}
        state = {"version": 1, "run_id": rid, "task": task, "status": status, "pipeline": "full",
                 "stages": stages, "current_stage": None if status == "succeeded" else "implement",
                 "current_item": None, "items": [],
                 "worktree": {"path": os.path.join(root, ".worktrees", rid), "branch": f"orx/{rid}",
                              "base_branch": "main", "base_sha": "0" * 40},
                 "engine": engine, "model": None, "usage": usage, "created_at": created,
                 "updated_at": finished, "finished_at": finished}
        with open(os.path.join(d, "meta.json"), "w") as f:
            json.dump(meta, f, indent=2)
        with open(os.path.join(d, "state.json"), "w") as f:
            json.dump(state, f, indent=2)
        with open(os.path.join(d, "events.jsonl"), "w") as f:
            f.write(json.dumps({"seq": 1, "ts": created, "run_id": rid, "event": "warning",
                                "message": "seeded run"}) + "\n")
    print(f"seeded {n} runs under {runs}")


if __name__ == "__main__":
    main()
