"""Bench 1, orchestration overhead: `orx run` on the fake engine (happy path, one item, one gate
running `true`) against a shell script doing only the unavoidable steps: worktree add, write the
file, run the gate, commit, diff, worktree remove. Pairs are interleaved (the order flips every
pair) and the ratio is of the medians. Target: orx <= 1.5x the script.

The script starts no agent, while orx starts one fake agent process per agent call (six in
the full pipeline, three in fast-fix). A second script, measured in the same rounds, adds those
same agent processes to the unavoidable steps (the implement call writes the file), so the
report also says how much of the gap is orx's own work and how much the agents' processes.
The target is judged against the first script.
"""

import sys
from pathlib import Path

import common as c

BASELINE = r"""#!/usr/bin/env bash
# The unavoidable steps of one run, by hand.
set -e
id="$1"; out="$2"
git worktree add -q -b "base/$id" ".worktrees/base-$id" main
cd ".worktrees/base-$id"
printf 'hello\n' > hello.txt
sh -c true
git add -A
git commit -q -m "W001: Write hello.txt"
git diff main...HEAD > "$out/base-$id.diff"
cd ../..
git worktree remove --force ".worktrees/base-$id"
"""

# The same steps with the agent processes orx starts: the fake engine's calls, in order.
WITH_AGENTS = r"""#!/usr/bin/env bash
set -e
id="$1"; out="$2"; orx="$3"; scenario="$4"; pipeline="$5"
# The fake engine's agent program, as orx picks it: the small binary beside orx, else orx itself.
if [ -x "$(dirname "$orx")/orx-fake-agent" ]; then agent_cmd=("$(dirname "$orx")/orx-fake-agent")
else agent_cmd=("$orx" __fake-agent); fi
agent() { "${agent_cmd[@]}" --stage "$1" --n 1 --scenario "$scenario" ${2:+--item "$2"} </dev/null >/dev/null; }
git worktree add -q -b "base/$id" ".worktrees/base-$id" main
cd ".worktrees/base-$id"
if [ "$pipeline" = full ]; then agent plan; agent spec; agent decompose; fi
agent implement W001
test -f hello.txt
sh -c true
git add -A
git commit -q -m "W001: Write hello.txt"
agent review
git diff main...HEAD > "$out/base-$id.diff"
agent knowledge_update
cd ../..
git worktree remove --force ".worktrees/base-$id"
"""


def cleanup(repo, run_id):
    """Outside the timing: drop the run's worktree and branch so every pair starts alike."""
    c.sh(["git", "worktree", "remove", "--force", f".worktrees/{run_id}"], cwd=repo, check=False)
    c.sh(["git", "branch", "-D", f"orx/{run_id}"], cwd=repo, check=False)


def measure(repo, tmp, pairs, pipeline, label):
    orx = c.orx_bin()
    scenario = tmp / "scenario.yaml"
    script, agents_script = tmp / "baseline.sh", tmp / "with_agents.sh"
    orx_t, base_t, agents_t, failures = [], [], [], 0
    for i in range(pairs):
        def run_orx():
            nonlocal failures
            before = c.run_names(repo)
            cmd = [orx, "run", "Write hello.txt", "--scenario", str(scenario), "--no-progress",
                   "--pipeline", pipeline]
            wall, code, _ = c.timed(cmd, cwd=repo)
            new = c.run_names(repo) - before
            if code != 0:
                failures += 1
            for rid in new:
                cleanup(repo, rid)
            orx_t.append(wall)

        def run_base():
            wall, code, _ = c.timed(["bash", str(script), f"{label}{i}", str(tmp)], cwd=repo)
            if code != 0:
                raise SystemExit(f"baseline script failed (exit {code})")
            c.sh(["git", "branch", "-D", f"base/{label}{i}"], cwd=repo, check=False)
            base_t.append(wall)

        def run_agents():
            rid = f"{label}a{i}"
            wall, code, _ = c.timed(["bash", str(agents_script), rid, str(tmp), orx, str(scenario),
                                     pipeline], cwd=repo)
            if code != 0:
                raise SystemExit(f"baseline script with agents failed (exit {code})")
            c.sh(["git", "branch", "-D", f"base/{rid}"], cwd=repo, check=False)
            agents_t.append(wall)

        order = (run_orx, run_base, run_agents)
        for f in (order if i % 2 == 0 else order[::-1]):
            f()
    mo, mb, ma = c.median(orx_t), c.median(base_t), c.median(agents_t)
    # The ratio within each round too: on a host whose speed drifts over minutes, each round's
    # two runs share their conditions, so this one says how steady the verdict's ratio is.
    per_round = c.median([o / b for o, b in zip(orx_t, base_t)])
    return {"pipeline": pipeline, "pairs": pairs, "orx_median_s": mo, "baseline_median_s": mb,
            "ratio": mo / mb, "per_round_ratio_median": per_round, "with_agents_median_s": ma, "ratio_with_agents": mo / ma,
            "orx_failures": failures, "orx_samples_s": orx_t, "baseline_samples_s": base_t,
            "with_agents_samples_s": agents_t}


def main(smoke=False):
    # Thirty rounds: the medians of twelve moved by a tenth between sittings minutes apart.
    pairs = 2 if smoke else 30
    with c.TempDir("overhead") as tmp:
        repo = c.init_repo(tmp / "repo", config=c.FAKE_CONFIG)
        (tmp / "scenario.yaml").write_text(c.ONE_ITEM_SCENARIO)
        (tmp / "baseline.sh").write_text(BASELINE)
        (tmp / "with_agents.sh").write_text(WITH_AGENTS)
        # One warm-up of each, untimed (page cache, git's first-run costs).
        measure(repo, tmp, 1, "fast-fix", "warm")
        full = measure(repo, tmp, pairs, "full", "full")
        fast = measure(repo, tmp, pairs, "fast-fix", "fast")
    for r in (full, fast):
        c.report(f"overhead: orx run --pipeline {r['pipeline']} vs baseline script ({pairs} pairs)", [
            ("orx median", c.fmt_s(r["orx_median_s"])),
            ("script median", c.fmt_s(r["baseline_median_s"])),
            ("ratio", f"{r['ratio']:.2f}x (target <= 1.5x)"),
            ("per-round ratio", f"{r['per_round_ratio_median']:.2f}x (median of each round's)"),
            ("script + agents", c.fmt_s(r["with_agents_median_s"])),
            ("ratio to that", f"{r['ratio_with_agents']:.2f}x"),
            ("orx failures", str(r["orx_failures"])),
        ])
    ok = full["orx_failures"] == 0 and fast["orx_failures"] == 0
    return c.save("overhead", {
        "smoke": smoke, "full": full, "fast_fix": fast,
        "target": "orx <= 1.5x the script (median of >= 10 interleaved pairs)",
        "met": ok and full["ratio"] <= 1.5,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
