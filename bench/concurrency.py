"""Bench 6, concurrency: 8 fake-engine runs (full pipeline, one item, gate `true`) started at
once in one repository, against the same 8 one after another. Reports the speed-up (sequential
wall / concurrent wall) and checks that all 8 concurrent runs succeed with their own branch.
"""

import json
import subprocess
import sys
import time

import common as c


def start(repo, scenario, i):
    return subprocess.Popen([c.orx_bin(), "run", f"Write hello.txt ({i})", "--scenario",
                             str(scenario), "--no-progress"], cwd=repo,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, env=c.env_for_orx())


def statuses(repo):
    out = {}
    for d in (repo / "runs").iterdir():
        out[d.name] = json.loads((d / "state.json").read_text())["status"]
    return out


def main(smoke=False):
    n = 3 if smoke else 8
    rounds = 1 if smoke else 3
    results = []
    with c.TempDir("concurrency") as tmp:
        scenario = tmp / "scenario.yaml"
        scenario.write_text(c.ONE_ITEM_SCENARIO)
        for r in range(rounds):
            for mode in (("seq", "par") if r % 2 == 0 else ("par", "seq")):
                repo = c.init_repo(tmp / f"repo-{mode}-{r}", config=c.FAKE_CONFIG)
                t0 = time.perf_counter()
                if mode == "seq":
                    codes = [start(repo, scenario, i).wait() for i in range(n)]
                else:
                    procs = [start(repo, scenario, i) for i in range(n)]
                    codes = [p.wait() for p in procs]
                wall = time.perf_counter() - t0
                st = statuses(repo)
                branches = c.sh(["git", "branch", "--list", "orx/*"], cwd=repo).stdout.split()
                results.append({"mode": mode, "round": r, "wall_s": wall, "exit_codes": codes,
                                "succeeded": sum(1 for s in st.values() if s == "succeeded"),
                                "branches": len([b for b in branches if b.startswith("orx/")])})
    seq = c.median([x["wall_s"] for x in results if x["mode"] == "seq"])
    par = c.median([x["wall_s"] for x in results if x["mode"] == "par"])
    all_ok = all(x["succeeded"] == n and x["branches"] == n and set(x["exit_codes"]) == {0}
                 for x in results)
    par_ok = [x["succeeded"] for x in results if x["mode"] == "par"]
    c.report(f"concurrency: {n} runs at once vs one after another ({rounds} rounds)", [
        ("sequential", c.fmt_s(seq)), ("concurrent", c.fmt_s(par)),
        ("speed-up", f"{seq / par:.2f}x (2 CPUs)"),
        ("concurrent runs succeeded", ", ".join(f"{k}/{n}" for k in par_ok)),
    ])
    return c.save("concurrency", {
        "smoke": smoke, "runs": n, "rounds": rounds, "rounds_detail": results,
        "sequential_median_s": seq, "concurrent_median_s": par, "speedup": seq / par,
        "all_succeeded": all_ok,
        "target": "all runs succeed; report the speed-up", "met": all_ok,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
