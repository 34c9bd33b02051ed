"""Bench 3, status at scale: `orx status` and `orx status --json` with 10,000 runs on disk,
against `cat runs/*/meta.json > /dev/null` (reading every meta file and nothing else). The runs
come from bench/seed_runs.py. Interleaved triples, medians. Target: <= 2x.
"""

import subprocess
import sys

import common as c


def main(smoke=False):
    count = 200 if smoke else 10_000
    reps = 3 if smoke else 9
    orx = c.orx_bin()
    with c.TempDir("status") as tmp:
        repo = c.init_repo(tmp / "repo", config=c.FAKE_CONFIG)
        subprocess.run([sys.executable, str(c.BENCH_DIR / "seed_runs.py"), str(repo), str(count)],
                       check=True, stdout=subprocess.DEVNULL)
        # Sanity: the listing sees every run, and a seeded run parses in detail.
        listed = c.sh([orx, "status", "--json"], cwd=repo).stdout
        import json
        n_listed = len(json.loads(listed))
        some = json.loads(listed)[0]["run_id"]
        detail = subprocess.run([orx, "status", some], cwd=repo, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL, env=c.env_for_orx()).returncode
        cmds = {
            "table": [orx, "status"],
            "json": [orx, "status", "--json"],
            "cat": "cat runs/*/meta.json > /dev/null",
        }
        for cmd in cmds.values():  # warm the page cache and dentries
            c.timed(cmd, cwd=repo)
        times = {k: [] for k in cmds}
        for i in range(reps):
            order = list(cmds) if i % 2 == 0 else list(reversed(list(cmds)))
            for k in order:
                wall, code, _ = c.timed(cmds[k], cwd=repo)
                if code != 0:
                    raise SystemExit(f"{k} failed with exit {code}")
                times[k].append(wall)
    med = {k: c.median(v) for k, v in times.items()}
    r_table, r_json = med["table"] / med["cat"], med["json"] / med["cat"]
    c.report(f"status: {count} runs on disk ({reps} interleaved rounds)", [
        ("orx status", f"{c.fmt_s(med['table'])}  ({r_table:.2f}x cat)"),
        ("orx status --json", f"{c.fmt_s(med['json'])}  ({r_json:.2f}x cat)"),
        ("cat runs/*/meta.json", c.fmt_s(med["cat"])),
        ("runs listed", f"{n_listed} of {count}"),
        ("orx status <id> on a seeded run", f"exit {detail}"),
        ("target", "<= 2x"),
    ])
    return c.save("status", {
        "smoke": smoke, "runs": count, "rounds": reps, "medians_s": med, "samples_s": times,
        "ratio_table": r_table, "ratio_json": r_json, "listed": n_listed, "detail_exit": detail,
        "target": "<= 2x cat of every meta.json",
        "met": max(r_table, r_json) <= 2 and n_listed == count and detail == 0,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
