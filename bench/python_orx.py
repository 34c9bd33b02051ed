"""Bench 10, orx against the Python orx it descends from, on bench 1's scenario: the full
pipeline, one backlog item writing hello.txt, one gate running `true`, review approved, the
work committed on the run's branch, no push. Pairs are interleaved (the order flips every pair)
and the ratio is of the medians. Target: orx >= 5x faster.

The Python orx is not part of this repository and nothing here installs it: point
ORX_PYTHON_ORX at a Python interpreter that can `import orx` (the Python project installed into
a virtualenv, see bench/notes.md) and this benchmark measures it; without it the benchmark says
so and keeps any earlier result. The Python orx has no scripted engine that its CLI can load,
so a small driver (DRIVER below) builds its config and its in-process FakeExecutor with the same
answers as bench 1's scenario and calls its Runner, as its own integration tests do. Its fake
engine runs inside the Python process while orx starts an agent process per call, which favours
the Python side. Two ratios are reported: the whole command (what a user waits for), and the run
alone (the Python side's time inside Runner.run, without interpreter start and imports).
"""

import json
import os
import sys
from pathlib import Path

import common as c

DRIVER = r'''
import json, sys, time
t0 = time.perf_counter()
from pathlib import Path
from orx.config import EngineType, GateConfig, OrxConfig
from orx.executors.fake import FakeAction, FakeExecutor, FakeScenario
from orx.runner import Runner
cfg = OrxConfig.default(EngineType.FAKE)
cfg.git.base_branch = "main"
cfg.git.auto_commit = True
cfg.git.auto_push = False
cfg.git.create_pr = False
cfg.gates = [GateConfig(name="ok", command="true", args=[], required=True)]
backlog = """run_id: "bench"
items:
  - id: "W001"
    title: "Write hello.txt"
    objective: "Create hello.txt holding hello."
    acceptance: ["hello.txt holds hello"]
    files_hint: ["hello.txt"]
    depends_on: []
    status: "todo"
    attempts: 0
    notes: ""
"""
fake = FakeExecutor(scenarios=[
    FakeScenario(name="plan", text_output="# Plan\n\nWrite hello.txt.\n"),
    FakeScenario(name="spec", text_output="# Spec\n\nhello.txt holds hello.\n"),
    FakeScenario(name="decompose", text_output=backlog),
    FakeScenario(name="implement", actions=[FakeAction("hello.txt", "hello\n")]),
    FakeScenario(name="review", text_output="# Code Review\n\nLooks right.\n\n## Verdict\nAPPROVED\n"),
    FakeScenario(name="knowledge_update", text_output="Nothing to record.\n"),
])
t1 = time.perf_counter()
runner = Runner(cfg, base_dir=Path(sys.argv[1]), dry_run=False)
runner.executor = fake
ok = runner.run("Write hello.txt")
t2 = time.perf_counter()
Path(sys.argv[2]).write_text(json.dumps({"ok": bool(ok), "start_s": t1 - t0, "run_s": t2 - t1}))
sys.exit(0 if ok else 1)
'''


def python_orx():
    """The interpreter that runs the Python orx, or None when it is not set up here."""
    exe = os.environ.get("ORX_PYTHON_ORX")
    if not exe:
        return None
    probe = c.sh([exe, "-c", "import orx.runner, orx.executors.fake"], check=False)
    if probe.returncode != 0:
        raise SystemExit(f"ORX_PYTHON_ORX={exe} cannot import the Python orx: "
                         f"{probe.stderr.strip().splitlines()[-1:] or ['no message']}")
    return exe


def committed_hello(repo):
    """Whether the newest worktree's HEAD holds hello.txt with `hello` (the run's work landed)."""
    trees = sorted((repo / ".worktrees").iterdir(), key=lambda p: p.stat().st_mtime)
    if not trees:
        return False
    shown = c.sh(["git", "show", "HEAD:hello.txt"], cwd=trees[-1], check=False)
    return shown.returncode == 0 and shown.stdout == "hello\n"


def reset(repo):
    """Outside the timing: drop every worktree and run branch so each run starts alike."""
    for wt in (repo / ".worktrees").iterdir() if (repo / ".worktrees").exists() else []:
        c.sh(["git", "worktree", "remove", "--force", str(wt)], cwd=repo, check=False)
    c.sh(["git", "worktree", "prune"], cwd=repo, check=False)
    heads = c.sh(["git", "for-each-ref", "--format=%(refname:short)", "refs/heads/orx"], cwd=repo)
    for b in heads.stdout.split():
        c.sh(["git", "branch", "-D", b], cwd=repo, check=False)


def measure(py, tmp, pairs):
    orx = c.orx_bin()
    rust_repo = c.init_repo(tmp / "rust", config=c.FAKE_CONFIG)
    py_repo = c.init_repo(tmp / "python")
    scenario, driver, out = tmp / "scenario.yaml", tmp / "driver.py", tmp / "python-run.json"
    scenario.write_text(c.ONE_ITEM_SCENARIO)
    driver.write_text(DRIVER)
    rust_t, py_t, py_run, py_start, failures = [], [], [], [], {"orx": 0, "python": 0}

    def run_rust():
        cmd = [orx, "run", "Write hello.txt", "--scenario", str(scenario), "--no-progress",
               "--pipeline", "full"]
        wall, code, _ = c.timed(cmd, cwd=rust_repo)
        if code != 0 or not committed_hello(rust_repo):
            failures["orx"] += 1
        reset(rust_repo)
        rust_t.append(wall)

    def run_python():
        wall, code, _ = c.timed([py, str(driver), str(py_repo), str(out)], cwd=py_repo)
        inside = json.loads(out.read_text()) if out.exists() else {"ok": False}
        if code != 0 or not inside["ok"] or not committed_hello(py_repo):
            failures["python"] += 1
        else:
            py_run.append(inside["run_s"])
            py_start.append(inside["start_s"])
        out.unlink(missing_ok=True)
        reset(py_repo)
        py_t.append(wall)

    run_rust(), run_python()  # one warm-up of each, untimed
    rust_t.clear(), py_t.clear(), py_run.clear(), py_start.clear()
    failures.update(orx=0, python=0)
    for i in range(pairs):
        for f in ((run_rust, run_python) if i % 2 == 0 else (run_python, run_rust)):
            f()
    mr, mp = c.median(rust_t), c.median(py_t)
    return {"pairs": pairs, "orx_median_s": mr, "python_median_s": mp,
            "python_run_median_s": c.median(py_run), "python_start_median_s": c.median(py_start),
            "speedup": mp / mr, "speedup_run_only": c.median(py_run) / mr, "failures": failures,
            "orx_samples_s": rust_t, "python_samples_s": py_t}


def main(smoke=False):
    py = python_orx()
    if py is None:
        print("python_orx: skipped, ORX_PYTHON_ORX is not set (see bench/notes.md); "
              "any earlier result is kept")
        return None
    version = c.sh([py, "-c", "import sys; print(sys.version.split()[0])"]).stdout.strip()
    pairs = 2 if smoke else 12
    with c.TempDir("python-orx") as tmp:
        r = measure(py, Path(tmp), pairs)
    c.report(f"python orx: the same full-pipeline run, orx vs the Python orx ({pairs} pairs)", [
        ("orx median", c.fmt_s(r["orx_median_s"])),
        ("Python orx median", c.fmt_s(r["python_median_s"])),
        ("  of which in Runner.run", c.fmt_s(r["python_run_median_s"])),
        ("speed-up, whole command", f"{r['speedup']:.1f}x (target >= 5x)"),
        ("speed-up, run alone", f"{r['speedup_run_only']:.1f}x"),
        ("failures", json.dumps(r["failures"])),
    ])
    ok = r["failures"] == {"orx": 0, "python": 0}
    return c.save("python_orx", {
        "smoke": smoke, "python": version, **r,
        "target": "orx >= 5x faster than the Python orx on the same scenario (whole command)",
        "met": ok and r["speedup"] >= 5,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
