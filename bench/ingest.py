"""Bench 2, stream ingestion: a stand-in `claude` (executors.claude.bin) prints a Claude Code
stream-json file through the real executor path (supervisor, reader threads, raw log, Claude
parser, events, usage). Throughput is compared with `cat FILE > /dev/null`, and with
`cat FILE | tee LOG > /dev/null` (the floor for anything that pipes the stream and keeps a raw
log). Peak RSS is orx's own, from wait4 and from metrics/run.json when orx records it. The run
uses a one-stage pipeline [plan] routed to the stand-in. Targets: RSS < 64 MiB at any size,
throughput >= 0.5x `cat | tee LOG` at 1 GiB.
"""

import json
import os
import sys

import common as c

SID = "9a1f2c4e-5b6d-4e7f-8a9b-0c1d2e3f4a5b"
MIB = 1024 * 1024


def block(k):
    """About 64 KiB of realistic stream-json: thinking, text, tool use and results."""
    lines = []
    text = ("Reading the module and its tests before changing anything. " * 20).strip()
    for j in range(12):
        u = {"input_tokens": 3, "cache_creation_input_tokens": 0,
             "cache_read_input_tokens": 10340, "output_tokens": 8, "service_tier": "standard"}
        lines.append({"type": "assistant", "message": {
            "model": "claude-sonnet-4-5-20250929", "id": f"msg_{k}_{j}", "type": "message",
            "role": "assistant", "content": [{"type": "text", "text": f"{j}: {text}"}],
            "stop_reason": None, "stop_sequence": None, "usage": u},
            "parent_tool_use_id": None, "session_id": SID, "uuid": f"a{k}-{j}"})
        lines.append({"type": "assistant", "message": {
            "model": "claude-sonnet-4-5-20250929", "id": f"msg_{k}_{j}", "type": "message",
            "role": "assistant", "content": [{"type": "tool_use", "id": f"toolu_{k}_{j}",
                                              "name": "Bash", "input": {"command": "python -m pytest -q",
                                                                        "description": "Run the tests"}}],
            "stop_reason": None, "stop_sequence": None, "usage": u},
            "parent_tool_use_id": None, "session_id": SID, "uuid": f"b{k}-{j}"})
        out = "\n".join(f"tests/test_{i}.py::test_case PASSED" for i in range(60))
        lines.append({"type": "user", "message": {"role": "user", "content": [
            {"tool_use_id": f"toolu_{k}_{j}", "type": "tool_result", "content": out,
             "is_error": False}]}, "parent_tool_use_id": None, "session_id": SID,
            "uuid": f"u{k}-{j}", "tool_use_result": {"stdout": out, "stderr": "",
                                                      "interrupted": False, "isImage": False}})
    return "".join(json.dumps(x, separators=(",", ":")) + "\n" for x in lines)


def make_stream(path, size):
    init = {"type": "system", "subtype": "init", "cwd": "/w", "session_id": SID,
            "tools": ["Bash", "Read", "Edit", "Write"], "mcp_servers": [],
            "model": "claude-sonnet-4-5-20250929", "permissionMode": "bypassPermissions",
            "apiKeySource": "ANTHROPIC_API_KEY", "claude_code_version": "2.1.330", "uuid": "i0"}
    result = {"type": "result", "subtype": "success", "is_error": False, "duration_ms": 18234,
              "num_turns": 4, "result": "# Plan\n\nIngested.", "stop_reason": "end_turn",
              "session_id": SID, "total_cost_usd": 0.04231,
              "usage": {"input_tokens": 24, "cache_creation_input_tokens": 4410,
                        "cache_read_input_tokens": 31020, "output_tokens": 412},
              "permission_denials": [], "terminal_reason": "completed", "uuid": "r1"}
    with open(path, "w") as f:
        f.write(json.dumps(init) + "\n")
        written, k = 0, 0
        chunk = [block(i) for i in range(16)]
        while written < size:
            b = chunk[k % 16]
            f.write(b)
            written += len(b)
            k += 1
        f.write(json.dumps(result) + "\n")
    return os.path.getsize(path)


CONFIG = """version: "1"
engine:
  type: fake
  timeout: 3600
git:
  base_branch: main
executors:
  claude:
    bin: {agent}
stages:
  plan: {{executor: claude}}
pipelines:
  ingest: [plan]
gates:
  - name: ok
    command: "true"
"""


def one_size(tmp, size, reps):
    orx = c.orx_bin()
    stream = tmp / f"stream-{size}.jsonl"
    actual = make_stream(stream, size)
    agent = tmp / "claude-standin.sh"
    agent.write_text(f"#!/bin/sh\ncat > /dev/null\nexec cat '{stream}'\n")
    agent.chmod(0o755)
    repo = tmp / f"repo-{size}"
    c.init_repo(repo, config=CONFIG.format(agent=agent))
    rows = {"orx": [], "cat": [], "tee": []}
    # CPU seconds (user + system) of each command and the children it waited for: the wall
    # time of a pipe moves with the host's other load and with the kernel's page-cache work,
    # the user time of the same work hardly does, so the two together say which one moved.
    cpu = {"orx": [], "tee": []}
    rss, self_rss, codes, events = [], [], [], 0
    c.timed(f"cat '{stream}' > /dev/null")  # page cache
    for i in range(reps):
        order = ["orx", "cat", "tee"] if i % 2 == 0 else ["tee", "cat", "orx"]
        for k in order:
            if k == "orx":
                before = c.run_names(repo)
                wall, code, ru = c.timed([orx, "run", "ingest", "--pipeline", "ingest",
                                          "--no-progress"], cwd=repo)
                cpu["orx"].append((ru.ru_utime, ru.ru_stime))
                codes.append(code)
                rss.append(ru.ru_maxrss)
                latest = repo / "runs" / (c.run_names(repo) - before).pop()
                try:
                    proc = json.loads((latest / "metrics" / "run.json").read_text()).get("process")
                    if proc:
                        self_rss.append(proc.get("max_rss_kib"))
                except (OSError, ValueError):
                    pass
                events = sum(1 for _ in open(latest / "events.jsonl"))
                # Outside the timing: drop the raw log so the disk does not fill up.
                for f in (latest / "logs").glob("*"):
                    f.unlink()
                c.sh(["git", "worktree", "remove", "--force", f".worktrees/{latest.name}"],
                     cwd=repo, check=False)
            elif k == "cat":
                wall, code, _ = c.timed(f"cat '{stream}' > /dev/null")
            else:
                log = tmp / "tee.log"
                wall, code, ru = c.timed(f"cat '{stream}' | tee '{log}' > /dev/null")
                cpu["tee"].append((ru.ru_utime, ru.ru_stime))
                log.unlink()
            rows[k].append(wall)
    stream.unlink()
    med = {k: c.median(v) for k, v in rows.items()}
    user = {k: c.median([u for u, _ in v]) for k, v in cpu.items()}
    system = {k: c.median([s for _, s in v]) for k, v in cpu.items()}
    return {
        "user_s": user, "system_s": system, "cpu_samples_s": cpu,
        "bytes": actual, "reps": reps, "medians_s": med, "samples_s": rows,
        "orx_mib_s": actual / MIB / med["orx"], "cat_mib_s": actual / MIB / med["cat"],
        "tee_mib_s": actual / MIB / med["tee"],
        "ratio_vs_cat": med["cat"] / med["orx"], "ratio_vs_tee": med["tee"] / med["orx"],
        "peak_rss_kib_wait4": max(rss), "peak_rss_kib_self": max(self_rss) if self_rss else None,
        "exit_codes": codes, "events_in_run": events,
    }


def main(smoke=False):
    sizes = [8 * MIB] if smoke else [128 * MIB, 1024 * MIB]
    reps = 1 if smoke else 5
    out = []
    with c.TempDir("ingest") as tmp:
        for size in sizes:
            r = one_size(tmp, size, reps)
            out.append(r)
            rss = r["peak_rss_kib_self"] or r["peak_rss_kib_wait4"]
            c.report(f"ingest: {r['bytes'] / MIB:.0f} MiB of Claude stream-json ({reps} rounds)", [
                ("orx", f"{c.fmt_s(r['medians_s']['orx'])}  {r['orx_mib_s']:.0f} MiB/s"),
                ("cat > /dev/null", f"{c.fmt_s(r['medians_s']['cat'])}  {r['cat_mib_s']:.0f} MiB/s"),
                ("cat | tee LOG", f"{c.fmt_s(r['medians_s']['tee'])}  {r['tee_mib_s']:.0f} MiB/s"),
                ("throughput ratio", f"{r['ratio_vs_cat']:.2f}x cat, {r['ratio_vs_tee']:.2f}x cat|tee (target >= 0.5x cat|tee)"),
                ("orx runs", ", ".join(c.fmt_s(w) for w in sorted(r["samples_s"]["orx"]))),
                ("CPU, user + system", f"orx {r['user_s']['orx']:.2f} + {r['system_s']['orx']:.2f} s, "
                 f"cat|tee {r['user_s']['tee']:.2f} + {r['system_s']['tee']:.2f} s"),
                ("orx peak RSS", f"{rss / 1024:.1f} MiB (wait4 {r['peak_rss_kib_wait4'] / 1024:.1f} MiB; target < 64 MiB)"),
                ("exit codes", str(r["exit_codes"])),
                ("events in the run", str(r["events_in_run"])),
            ])
    big = out[-1]
    rss_ok = all((r["peak_rss_kib_self"] or r["peak_rss_kib_wait4"]) < 64 * 1024 for r in out)
    ok = all(code == 0 for r in out for code in r["exit_codes"])
    return c.save("ingest", {
        "smoke": smoke, "sizes": out,
        "target": "peak RSS < 64 MiB at any size; throughput >= 0.5x cat | tee LOG",
        "rss_met": rss_ok and ok, "throughput_met": ok and big["ratio_vs_tee"] >= 0.5,
        "met": rss_ok and ok and big["ratio_vs_tee"] >= 0.5,
    })


if __name__ == "__main__":
    main(smoke="--smoke" in sys.argv)
