"""Bench 8, best-of-N candidates: one backlog item attempted by three candidates at once
(`--candidates 3`, each in a lane of its own, all passing, then a judge call choosing one)
against the same item with one candidate, interleaved in one run. Every agent call of the
pipeline takes 2 s (plan, spec, decompose, implement, the judge, review, knowledge), so the
judge's call is counted at the same price as any other. Target: best-of-3 takes at most 1.3x
the wall time of one candidate. The implement-and-verify span (from the events) is reported
beside it.
"""

import datetime
import json
import subprocess
import sys
import time

import common as c


def scenario(delay_ms):
    d = f"delay_ms: {delay_ms}"
    return f"""plan: {{{d}, text: "# Plan\\n\\nWrite out.txt."}}
spec: {{{d}, text: "# Spec\\n\\nout.txt says ok."}}
decompose:
  {d}
  text: |
    ```yaml
    items:
      - {{id: W001, title: Write out.txt, objective: Write out.txt, acceptance: [out.txt exists], files_hint: [out.txt], depends_on: []}}
    ```
implement:
  W001: {{{d}, files: {{"out.txt": "ok\\n"}}}}
judge:
  W001:
    {d}
    text: |
      ```json
      {{"choice": 1, "reason": "the first"}}
      ```
review:
  {d}
  text: |
    Looks right.
    ```json
    {{"verdict": "approved", "summary": "file written"}}
    ```
knowledge_update: {{{d}, text: "Nothing to record."}}
"""


def ts(s):
    return datetime.datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp()


def implement_span(events):
    """Seconds from implement's start to verify's (or implement's) end."""
    start = next(e["ts"] for e in events
                 if e["event"] == "stage_started" and e["stage"] == "implement")
    end = [e["ts"] for e in events if e["event"] == "stage_finished"
           and e["stage"] in ("implement", "verify")][-1]
    return ts(end) - ts(start)


def one_run(tmp, label, candidates, delay_ms):
    repo = c.init_repo(tmp / f"repo-{label}", config=c.FAKE_CONFIG)
    sc = tmp / f"scenario-{label}.yaml"
    sc.write_text(scenario(delay_ms))
    t0 = time.perf_counter()
    p = subprocess.run([c.orx_bin(), "run", "Write the file", "--scenario", str(sc),
                        "--no-progress", "--candidates", str(candidates)], cwd=repo,
                       stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                       stdin=subprocess.DEVNULL, env=c.env_for_orx(), text=True)
    wall = time.perf_counter() - t0
    run_id = p.stdout.split("\n", 1)[0].removeprefix("run ").strip()
    folder = repo / "runs" / run_id
    state = json.loads((folder / "state.json").read_text())
    events = [json.loads(line) for line in (folder / "events.jsonl").read_text().splitlines()]
    passed = sum(1 for x in state.get("candidates", []) if x.get("passed"))
    return {"label": label, "wall_s": wall, "exit": p.returncode,
            "implement_s": implement_span(events),
            "item_done": state["items"][0]["status"] == "done",
            "candidates_passed": passed, "choices": state.get("choices", [])}


def main(smoke=False):
    delay_ms = 300 if smoke else 2000
    rounds = 1 if smoke else 3
    results = []
    with c.TempDir("candidates") as tmp:
        for r in range(rounds):
            order = [("one", 1), ("best3", 3)]
            if r % 2:
                order.reverse()
            for label, n in order:
                res = one_run(tmp, f"{label}-{r}", n, delay_ms)
                res["mode"] = label
                results.append(res)
    med = {m: c.median([x["wall_s"] for x in results if x["mode"] == m]) for m in ("one", "best3")}
    imp = {m: c.median([x["implement_s"] for x in results if x["mode"] == m])
           for m in ("one", "best3")}
    ok = all(x["exit"] == 0 and x["item_done"] for x in results) and all(
        x["candidates_passed"] == 3 and x["choices"] and x["choices"][0]["how"] == "judge"
        for x in results if x["mode"] == "best3")
    ratio = med["best3"] / med["one"]
    c.report(f"candidates: one item, every agent call {delay_ms} ms ({rounds} rounds)", [
        ("one candidate", c.fmt_s(med["one"])),
        ("best of 3 (judged)", c.fmt_s(med["best3"])),
        ("best of 3 / one", f"{ratio:.2f}x (target <= 1.3x)"),
        ("implement+verify, one", c.fmt_s(imp["one"])),
        ("implement+verify, best of 3", c.fmt_s(imp["best3"])),
        ("every run succeeded, every best-of-3 judged", "yes" if ok else "NO"),
    ])
    return c.save("candidates", {
        "smoke": smoke, "candidates": 3, "delay_ms": delay_ms, "rounds": rounds,
        "rounds_detail": results, "one_median_s": med["one"], "best3_median_s": med["best3"],
        "ratio": ratio, "implement_one_median_s": imp["one"],
        "implement_best3_median_s": imp["best3"], "all_succeeded": ok,
        "target": "--candidates 3 <= 1.3x one candidate", "met": ok and ratio <= 1.3,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
