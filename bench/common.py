"""Shared helpers for the orx benchmarks: temp repositories, timing, medians and results.

Every benchmark measures orx and a baseline side by side in the same process, interleaved, so
the ratio survives a noisy shared machine better than any absolute figure. Results go to
bench/results/<name>.json; bench.py turns them into docs/BENCHMARKS.md. Standard library only.
"""

import json
import os
import resource
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = Path(os.environ.get("ORX_BENCH_RESULTS", BENCH_DIR / "results"))


def orx_bin():
    """The orx binary under test: $ORX_BIN, else the release build of this checkout."""
    env = os.environ.get("ORX_BIN")
    if env:
        return str(Path(env).resolve())
    target = os.environ.get("CARGO_TARGET_DIR", str(ROOT / "target"))
    return str(Path(target) / "release" / "orx")


def env_for_orx():
    """Environment for orx children: no CI/TTY surprises, no user config leaking in."""
    env = dict(os.environ)
    env["CI"] = "true"
    env.pop("RUST_LOG", None)
    env["GIT_CONFIG_NOSYSTEM"] = "1"
    env["GIT_AUTHOR_NAME"] = env["GIT_COMMITTER_NAME"] = "orx bench"
    env["GIT_AUTHOR_EMAIL"] = env["GIT_COMMITTER_EMAIL"] = "bench@example.invalid"
    return env


class TempDir:
    """A temp folder removed on exit, even on failure (benchmarks never leave litter)."""

    def __init__(self, prefix):
        self.path = Path(tempfile.mkdtemp(prefix=f"orx-bench-{prefix}-"))

    def __enter__(self):
        return self.path

    def __exit__(self, *exc):
        shutil.rmtree(self.path, ignore_errors=True)


def sh(cmd, cwd=None, check=True, capture=True, env=None):
    """Run a command (list or shell string); return CompletedProcess."""
    return subprocess.run(
        cmd,
        cwd=cwd,
        shell=isinstance(cmd, str),
        check=check,
        stdout=subprocess.PIPE if capture else subprocess.DEVNULL,
        stderr=subprocess.PIPE if capture else subprocess.DEVNULL,
        text=True,
        env=env or env_for_orx(),
    )


def timed(cmd, cwd=None, env=None, stdout=subprocess.DEVNULL):
    """Wall seconds, exit code and the child's rusage (wait4) of one command."""
    t0 = time.perf_counter()
    p = subprocess.Popen(
        cmd,
        cwd=cwd,
        shell=isinstance(cmd, str),
        stdout=stdout,
        stderr=subprocess.DEVNULL,
        stdin=subprocess.DEVNULL,
        env=env or env_for_orx(),
    )
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.perf_counter() - t0
    p.returncode = os.waitstatus_to_exitcode(status)
    return wall, p.returncode, ru


def init_repo(path, files=None, config=None):
    """A git repository on branch main with `files` (name -> text) and orx.yaml committed."""
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sh(["git", "init", "-q", "-b", "main"], cwd=path)
    sh(["git", "config", "user.email", "bench@example.invalid"], cwd=path)
    sh(["git", "config", "user.name", "orx bench"], cwd=path)
    for name, text in (files or {"README.md": "# bench\n"}).items():
        f = path / name
        f.parent.mkdir(parents=True, exist_ok=True)
        f.write_text(text)
    if config is not None:
        (path / "orx.yaml").write_text(config)
    (path / ".gitignore").write_text("runs/\n.worktrees/\n")
    sh(["git", "add", "-A"], cwd=path)
    sh(["git", "commit", "-q", "-m", "bench: initial"], cwd=path)
    return path


# A fake-engine config whose one gate runs `true`, and a one-item happy-path scenario.
FAKE_CONFIG = """version: "1"
engine:
  type: fake
git:
  base_branch: main
gates:
  - name: ok
    command: "true"
"""

ONE_ITEM_SCENARIO = """plan: {text: "# Plan\\n\\nWrite hello.txt."}
spec: {text: "# Spec\\n\\nhello.txt holds hello."}
decompose:
  text: |
    ```yaml
    items:
      - id: W001
        title: Write hello.txt
        objective: Create hello.txt holding hello.
        acceptance: [hello.txt holds hello]
        files_hint: [hello.txt]
        depends_on: []
    ```
implement:
  default: {files: {"hello.txt": "hello\\n"}}
review:
  text: |
    Looks right.
    ```json
    {"verdict": "approved", "summary": "hello.txt is there"}
    ```
knowledge_update: {text: "Nothing to record."}
"""


def run_names(repo):
    """The run ids under `repo`/runs. A bench takes the set before a run and the set after to
    find the run it started: ids sort by the second only, so the last in sort order may not
    be the newest."""
    runs = Path(repo) / "runs"
    return {p.name for p in runs.iterdir()} if runs.exists() else set()


def median(xs):
    return statistics.median(xs) if xs else float("nan")


def save(name, data):
    """Write bench/results/<name>.json with the machine context."""
    RESULTS.mkdir(exist_ok=True)
    data = dict(data)
    data["name"] = name
    data["measured_at"] = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    data["machine"] = machine()
    (RESULTS / f"{name}.json").write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")
    return data


def machine():
    cpus = os.cpu_count()
    load = os.getloadavg()[0]
    return f"{cpus} CPUs, load {load:.1f} at start of write"


def fmt_s(x):
    if x != x:  # nan
        return "n/a"
    return f"{x * 1000:.1f} ms" if x < 1 else f"{x:.2f} s"


def report(title, rows):
    """Print a small aligned table of (label, value) rows."""
    print(f"\n== {title}")
    width = max(len(r[0]) for r in rows)
    for label, value in rows:
        print(f"  {label.ljust(width)}  {value}")


def self_rusage_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
