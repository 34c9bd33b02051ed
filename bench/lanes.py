"""Bench 7, parallel lanes: five independent backlog items whose fake agent takes 2 s each, run
with `--parallel 5` and with `--parallel 1`, against one such item alone, all interleaved in one
run. Target: the five items in lanes take at most 1.4x the wall time of one item (one after
another they take about 5x).
"""

import json
import subprocess
import sys
import time

import common as c

ITEMS = 5


def scenario(n, delay_ms):
    items = "\n".join(
        f"      - {{id: W{i:03}, title: Write f{i}.txt, objective: Write f{i}.txt, "
        f"acceptance: [f{i}.txt exists], files_hint: [f{i}.txt], depends_on: []}}"
        for i in range(1, n + 1))
    implement = "\n".join(
        f"  W{i:03}: {{delay_ms: {delay_ms}, files: {{\"f{i}.txt\": \"{i}\\n\"}}}}"
        for i in range(1, n + 1))
    return f"""plan: {{text: "# Plan\\n\\nWrite the files."}}
spec: {{text: "# Spec\\n\\nOne file per item."}}
decompose:
  text: |
    ```yaml
    items:
{items}
    ```
implement:
{implement}
review:
  text: |
    Looks right.
    ```json
    {{"verdict": "approved", "summary": "files written"}}
    ```
knowledge_update: {{text: "Nothing to record."}}
"""


def one_run(tmp, label, n, parallel, delay_ms):
    repo = c.init_repo(tmp / f"repo-{label}", config=c.FAKE_CONFIG)
    sc = tmp / f"scenario-{label}.yaml"
    sc.write_text(scenario(n, delay_ms))
    t0 = time.perf_counter()
    p = subprocess.run([c.orx_bin(), "run", "Write the files", "--scenario", str(sc),
                        "--no-progress", "--parallel", str(parallel)], cwd=repo,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, env=c.env_for_orx(), text=True)
    wall = time.perf_counter() - t0
    run_id = p.stdout.split("\n", 1)[0].removeprefix("run ").strip()
    state = json.loads((repo / "runs" / run_id / "state.json").read_text())
    done = sum(1 for i in state["items"] if i["status"] == "done")
    return {"label": label, "wall_s": wall, "exit": p.returncode, "items_done": done}


def main(smoke=False):
    delay_ms = 300 if smoke else 2000
    rounds = 1 if smoke else 3
    results = []
    with c.TempDir("lanes") as tmp:
        for r in range(rounds):
            order = [("one", 1, 1), ("par5", ITEMS, 5), ("seq", ITEMS, 1)]
            if r % 2:
                order.reverse()
            for label, n, par in order:
                res = one_run(tmp, f"{label}-{r}", n, par, delay_ms)
                res["mode"] = label
                results.append(res)
    med = {m: c.median([x["wall_s"] for x in results if x["mode"] == m])
           for m in ("one", "par5", "seq")}
    ok = all(x["exit"] == 0 and x["items_done"] == (1 if x["mode"] == "one" else ITEMS)
             for x in results)
    ratio = med["par5"] / med["one"]
    c.report(f"lanes: {ITEMS} items, agent {delay_ms} ms each ({rounds} rounds)", [
        ("one item", c.fmt_s(med["one"])),
        (f"{ITEMS} items, --parallel {ITEMS}", c.fmt_s(med["par5"])),
        (f"{ITEMS} items, --parallel 1", c.fmt_s(med["seq"])),
        ("parallel / one item", f"{ratio:.2f}x (target <= 1.4x)"),
        ("sequential / one item", f"{med['seq'] / med['one']:.2f}x"),
        ("every run succeeded", "yes" if ok else "NO"),
    ])
    return c.save("lanes", {
        "smoke": smoke, "items": ITEMS, "delay_ms": delay_ms, "rounds": rounds,
        "rounds_detail": results, "one_median_s": med["one"], "parallel_median_s": med["par5"],
        "sequential_median_s": med["seq"], "ratio": ratio,
        "ratio_sequential": med["seq"] / med["one"], "all_succeeded": ok,
        "target": "--parallel 5 <= 1.4x one item", "met": ok and ratio <= 1.4,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
