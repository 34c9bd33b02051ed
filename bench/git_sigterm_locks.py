"""Does git leave lock files behind when it gets SIGTERM? (An experiment, not a benchmark.)

    python3 bench/git_sigterm_locks.py [rounds]        (default 300)

Each round starts `git worktree add -q -b bN .wt/wN main` in a throwaway repository of 30
files, in a session of its own, sends SIGTERM to that whole session (worktree add and the
`git branch` and `git reset --hard` it runs) at a random instant in its first 12 ms, waits for
every process of the session to be gone, and then looks for the lock files git takes:
`.git/packed-refs.lock` (every ref deletion takes it, and `reset --hard` deletes pseudo-refs),
`.git/index.lock` and the new branch's `refs/heads/bN.lock`. A lock found is counted and
removed, so each round starts clean.

git registers its lock files for removal on SIGTERM, yet some rounds leave one: a git process
signalled halfway is not lock-safe even on SIGTERM. That is why a resume or clean lets the git
processes a killed orx left running finish instead of signalling them (`src/exec/helper.rs`).
"""

import os
import random
import signal
import subprocess
import sys
import tempfile
import time

LOCKS = ["packed-refs.lock", "index.lock"]


def session_alive(sid):
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                if os.getsid(int(d)) == sid:
                    return True
            except OSError:
                pass
    return False


def main(rounds):
    found = {}
    with tempfile.TemporaryDirectory(prefix="orx-git-sigterm-") as tmp:
        repo = os.path.join(tmp, "repo")
        subprocess.run(["git", "init", "-q", "-b", "main", repo], check=True)
        for i in range(30):
            with open(os.path.join(repo, f"f{i}.txt"), "w") as f:
                f.write("x\n" * 100)
        subprocess.run(["git", "-C", repo, "add", "-A"], check=True)
        subprocess.run(["git", "-C", repo, "-c", "user.name=a", "-c", "user.email=a@example.invalid",
                        "commit", "-qm", "init"], check=True)
        for n in range(rounds):
            wt = os.path.join(repo, ".wt", f"w{n}")
            p = subprocess.Popen(["git", "-C", repo, "worktree", "add", "-q", "-b", f"b{n}", wt, "main"],
                                 start_new_session=True, stderr=subprocess.DEVNULL)
            time.sleep(random.uniform(0, 0.012))
            try:
                os.killpg(p.pid, signal.SIGTERM)
            except ProcessLookupError:
                pass
            p.wait()
            while session_alive(p.pid):
                time.sleep(0.005)
            for lock in LOCKS + [f"refs/heads/b{n}.lock"]:
                path = os.path.join(repo, ".git", lock)
                if os.path.exists(path):
                    kind = "refs/heads/<branch>.lock" if lock.startswith("refs/") else lock
                    found[kind] = found.get(kind, 0) + 1
                    os.unlink(path)
            subprocess.run(["git", "-C", repo, "worktree", "remove", "--force", wt], stderr=subprocess.DEVNULL)
            subprocess.run(["git", "-C", repo, "worktree", "prune"])
            subprocess.run(["git", "-C", repo, "branch", "-qD", f"b{n}"], stderr=subprocess.DEVNULL)
    total = sum(found.values())
    print(f"{rounds} SIGTERMs to git worktree add: {total} left a lock file behind {found}")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 300)
