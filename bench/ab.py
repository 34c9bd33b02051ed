"""Two orx binaries side by side, interleaved in the same minutes, for before/after figures.

    python3 bench/ab.py OLD_BIN NEW_BIN ingest [MiB] [rounds]     (default 128 MiB, 5 rounds)
    python3 bench/ab.py OLD_BIN NEW_BIN overhead [pairs]          (default 12 pairs, fast-fix)
    python3 bench/ab.py OLD_BIN NEW_BIN overhead-full [pairs]     (the same, full pipeline)
    python3 bench/ab.py OLD_BIN NEW_BIN gitcount                  (git processes per run)
    python3 bench/ab.py OLD_BIN NEW_BIN fsyncs                    (fsyncs per run, needs strace)

ingest: the bench-2 setup (stand-in `claude` printing Claude stream-json, one-stage pipeline),
wall time and orx's CPU (user+sys from wait4, children included: the stand-in `cat` is tiny).
overhead: the bench-1 fast-fix run (fake engine, one item, gate `true`), wall time and the CPU
of orx and its children (wait4);
overhead-full: the same with the full pipeline (six fake agent calls instead of one).
gitcount: a `git` shim on PATH counts the git processes of one fast-fix and one full run.
fsyncs: `strace -f` counts the fsync and fdatasync calls of the same two runs (orx's and its
children's: git and the gates make none here), and prints the count in metrics/run.json where
the binary reports one.
The order of the two binaries flips every round; medians are printed. Nothing is written to
bench/results: this is for the notes' before/after table, not for the main table.
"""
import json
import shutil
import sys
from pathlib import Path

import common as c
import ingest
import overhead


def run_ingest(old, new, mib, rounds):
    with c.TempDir("ab-ingest") as tmp:
        stream = tmp / "stream.jsonl"
        size = ingest.make_stream(stream, mib * ingest.MIB)
        agent = tmp / "claude-standin.sh"
        agent.write_text(f"#!/bin/sh\ncat > /dev/null\nexec cat '{stream}'\n")
        agent.chmod(0o755)
        repo = c.init_repo(tmp / "repo", config=ingest.CONFIG.format(agent=agent))
        c.timed(f"cat '{stream}' > /dev/null")
        res = {"old": ([], []), "new": ([], [])}
        for i in range(rounds):
            for k in (("old", "new") if i % 2 == 0 else ("new", "old")):
                binary = old if k == "old" else new
                before = c.run_names(repo)
                wall, code, ru = c.timed([binary, "run", "ingest", "--pipeline", "ingest",
                                          "--no-progress"], cwd=repo)
                if code != 0:
                    raise SystemExit(f"{k} orx exited {code}")
                res[k][0].append(wall)
                res[k][1].append(ru.ru_utime + ru.ru_stime)
                latest = repo / "runs" / (c.run_names(repo) - before).pop()
                for f in (latest / "logs").glob("*"):
                    f.unlink()
                c.sh(["git", "worktree", "remove", "--force", f".worktrees/{latest.name}"],
                     cwd=repo, check=False)
        mib_s = size / ingest.MIB
        for k in ("old", "new"):
            w, cpu = c.median(res[k][0]), c.median(res[k][1])
            print(f"{k}: {mib_s:.0f} MiB, median of {rounds}: wall {w:.2f} s "
                  f"({mib_s / w:.0f} MiB/s), CPU {cpu:.2f} s ({mib_s / cpu:.0f} MiB/CPU-s)")


def run_overhead(old, new, pairs, pipeline="fast-fix"):
    with c.TempDir("ab-overhead") as tmp:
        repo = c.init_repo(tmp / "repo", config=c.FAKE_CONFIG)
        scenario = tmp / "scenario.yaml"
        scenario.write_text(c.ONE_ITEM_SCENARIO)
        times = {"old": [], "new": []}
        cpu = {"old": [], "new": []}
        for i in range(pairs + 1):  # the first pair warms up, untimed
            for k in (("old", "new") if i % 2 == 0 else ("new", "old")):
                binary = old if k == "old" else new
                before = c.run_names(repo)
                wall, code, ru = c.timed([binary, "run", "Write hello.txt", "--scenario",
                                          str(scenario), "--no-progress", "--pipeline",
                                          pipeline], cwd=repo)
                if code != 0:
                    raise SystemExit(f"{k} orx exited {code}")
                for rid in c.run_names(repo) - before:
                    overhead.cleanup(repo, rid)
                if i > 0:
                    times[k].append(wall)
                    cpu[k].append(ru.ru_utime + ru.ru_stime)
        for k in ("old", "new"):
            print(f"{k}: {pipeline} run, median of {pairs}: {c.median(times[k]) * 1000:.0f} ms, "
                  f"CPU {c.median(cpu[k]) * 1000:.0f} ms (orx and its children)")


SHIM = '#!/bin/bash\nprintf "%s\\n" "$*" >> {log}\nexec {git} "$@"\n'


def run_gitcount(old, new):
    for pipeline in ("fast-fix", "full"):
        for k, binary in (("old", old), ("new", new)):
            with c.TempDir("ab-gitcount") as tmp:
                repo = c.init_repo(tmp / "repo", config=c.FAKE_CONFIG)
                (tmp / "scenario.yaml").write_text(c.ONE_ITEM_SCENARIO)
                shim = tmp / "shim"
                shim.mkdir()
                log = tmp / "git.log"
                (shim / "git").write_text(SHIM.format(log=log, git=shutil.which("git")))
                (shim / "git").chmod(0o755)
                env = c.env_for_orx()
                env["PATH"] = f"{shim}:{env['PATH']}"
                _, code, _ = c.timed([binary, "run", "Write hello.txt", "--scenario",
                                      str(tmp / "scenario.yaml"), "--no-progress",
                                      "--pipeline", pipeline], cwd=repo, env=env)
                n = len(log.read_text().splitlines()) if log.exists() else 0
                print(f"{k}: {pipeline} run exited {code}, {n} git processes")


def run_fsyncs(old, new):
    strace = shutil.which("strace")
    if not strace:
        raise SystemExit("fsyncs needs strace")
    for pipeline in ("fast-fix", "full"):
        for k, binary in (("old", old), ("new", new)):
            with c.TempDir("ab-fsyncs") as tmp:
                repo = c.init_repo(tmp / "repo", config=c.FAKE_CONFIG)
                (tmp / "scenario.yaml").write_text(c.ONE_ITEM_SCENARIO)
                trace = tmp / "strace.log"
                _, code, _ = c.timed([strace, "-f", "-qq", "-o", str(trace), "-e",
                                      "trace=fsync,fdatasync", binary, "run", "Write hello.txt",
                                      "--scenario", str(tmp / "scenario.yaml"), "--no-progress",
                                      "--pipeline", pipeline], cwd=repo, env=c.env_for_orx())
                n = sum(1 for line in trace.read_text().splitlines() if "sync(" in line)
                reported = "-"
                for m in (repo / "runs").glob("*/metrics/run.json"):
                    reported = json.loads(m.read_text()).get("fsyncs", "-")
                print(f"{k}: {pipeline} run exited {code}, {n} fsyncs (run.json: {reported})")


def main():
    if len(sys.argv) < 4:
        raise SystemExit(__doc__)
    old, new, what = str(Path(sys.argv[1]).resolve()), str(Path(sys.argv[2]).resolve()), sys.argv[3]
    rest = [int(a) for a in sys.argv[4:]]
    if what == "ingest":
        run_ingest(old, new, *(rest or [128, 5]))
    elif what == "overhead":
        run_overhead(old, new, *(rest or [12]))
    elif what == "overhead-full":
        run_overhead(old, new, *(rest or [12]), pipeline="full")
    elif what == "gitcount":
        run_gitcount(old, new)
    elif what == "fsyncs":
        run_fsyncs(old, new)
    else:
        raise SystemExit(__doc__)


if __name__ == "__main__":
    main()
