"""Replays, deterministically, the request sequences that schemathesis's stateful exploration
reaches and whose answer depends on timing: an action on a run whose process is starting or
has just ended. Each sequence runs several times; whatever moment the run is at, every answer
must be a documented status of its operation, carry a body that matches the documented schema,
and never be a server error. The exploration itself (random, time-bounded) is
`make contract-explore`; what it finds is added here, so `make test` replays it every time.

usage: replay.py BASE_URL OPENAPI_JSON
"""

import json
import sys
import threading
import urllib.error
import urllib.request

import jsonschema_rs

BASE, SPEC_PATH = sys.argv[1], sys.argv[2]
SPEC = json.load(open(SPEC_PATH))
ROUNDS = 5
passed = 0
failures = []


def resolve(node):
    """The schema with every local $ref inlined."""
    if isinstance(node, dict):
        ref = node.get("$ref")
        if isinstance(ref, str) and ref.startswith("#/"):
            target = SPEC
            for part in ref[2:].split("/"):
                target = target[part]
            return resolve(target)
        return {k: resolve(v) for k, v in node.items()}
    if isinstance(node, list):
        return [resolve(v) for v in node]
    return node


def operation(method, template):
    return SPEC["paths"][template][method.lower()]


def call(method, template, path, body=None, what=""):
    """Send one request and check its answer against the document; the parsed body."""
    global passed
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        req.add_header("Content-Type", "application/json")
    req.add_header("Origin", BASE.rstrip("/"))
    try:
        with urllib.request.urlopen(req, timeout=120) as resp:
            status, raw, ctype = resp.status, resp.read(), resp.headers.get("Content-Type", "")
    except urllib.error.HTTPError as e:
        status, raw, ctype = e.code, e.read(), e.headers.get("Content-Type", "")
    label = f"{what}: {method} {path} -> {status}"
    responses = operation(method, template)["responses"]
    if status >= 500:
        failures.append(f"{label}: server error {raw[:300]!r}")
        return None
    if str(status) not in responses:
        failures.append(f"{label}: undocumented status (documented: {', '.join(responses)})")
        return None
    parsed = None
    content = responses[str(status)].get("content", {})
    if "application/json" in content:
        if not ctype.startswith("application/json"):
            failures.append(f"{label}: content type {ctype!r}, documented application/json")
            return None
        parsed = json.loads(raw)
        schema = resolve(content["application/json"].get("schema", {}))
        errors = [str(e) for e in jsonschema_rs.Draft202012Validator(schema).iter_errors(parsed)]
        if errors:
            failures.append(f"{label}: body does not match the schema: {errors[0]}")
            return None
    passed += 1
    return status, parsed


def start(engine, what):
    """Start a run; its id (or None when the start itself was refused as documented)."""
    r = call("POST", "/api/runs", "/api/runs",
             {"task": f"replay: {what}", "engine": engine}, what)
    if r and r[0] == 202:
        return r[1]["run_id"]
    return None


def reads(run_id, what):
    for sub in ["", "/events", "/artifacts", "/diff", "/sync"]:
        call("GET", "/api/runs/{id}" + sub, f"/api/runs/{run_id}{sub}", what=what)
    call("GET", "/api/runs", "/api/runs", what=what)


def sequence(name, engine, action):
    """Start a run, act on it at once (while it starts, runs or has just failed), read it."""
    for i in range(ROUNDS):
        what = f"{name} #{i + 1}"
        run_id = start(engine, what)
        if run_id is None:
            continue
        action(run_id, what)
        reads(run_id, what)


def act(kind):
    def go(run_id, what):
        template = "/api/runs/{id}/" + kind
        call("POST", template, f"/api/runs/{run_id}/{kind}", what=what)
    return go


def twice_at_once(kind):
    def go(run_id, what):
        template = "/api/runs/{id}/" + kind
        threads = [threading.Thread(target=call, args=(
            "POST", template, f"/api/runs/{run_id}/{kind}", None, what)) for _ in range(2)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    return go


# Found by the stateful phase: a run whose agent CLI is missing fails at once, and a cancel
# sent right after the start raced its exit (500 "cannot signal pid: No such process").
sequence("cancel a run that fails at once", "cursor", act("cancel"))
# The same window for the other actions on a run's process or folder.
sequence("cancel a run that is starting", "fake", act("cancel"))
sequence("resume a run that fails at once", "cursor", act("resume"))
sequence("resume a run that is starting", "fake", act("resume"))
sequence("clean a run that fails at once", "cursor", act("clean"))
sequence("clean a run twice at once", "cursor", twice_at_once("clean"))
sequence("cancel a run twice at once", "fake", twice_at_once("cancel"))

# Found by the stateful phase: a NUL byte in a field that goes on the child's command line made
# the spawn fail with a 500; it is bad input (400).
for field in ["model", "pipeline", "base_branch", "engine", "task"]:
    body = {"task": "replay: nul", "engine": "fake", field: "a\u0000b"}
    r = call("POST", "/api/runs", "/api/runs", body, f"NUL in {field}")
    if r and r[0] != 400:
        failures.append(f"NUL in {field}: answered {r[0]}, expected 400")

for f in failures:
    print("FAIL", f)
print(f"contract replay: {passed} passed, {len(failures)} failed")
sys.exit(1 if failures else 0)
