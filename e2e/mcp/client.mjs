// Drives `orx mcp` with the official TypeScript MCP SDK (@modelcontextprotocol/sdk), as an
// MCP client such as Claude Code would: spawn it over stdio in a temporary git repository set
// up for orx's scripted `fake` engine, list the tools, submit a run, poll it to completion,
// read its patch, call workspace_sync, check that errors come back as tool errors, and take a
// run stopped at an approval checkpoint through run_reject and run_approve.
//
// Usage: node client.mjs PATH/TO/orx   (run.sh passes target/debug/orx)
// Exits 0 when every check passed, 1 otherwise; prints one line per check.

import { Client } from "@modelcontextprotocol/sdk/client/index.js";
import { StdioClientTransport } from "@modelcontextprotocol/sdk/client/stdio.js";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";

const orx = resolve(process.argv[2] ?? "target/debug/orx");
let passed = 0;
let failed = 0;

function check(name, ok, detail = "") {
  if (ok) {
    passed++;
    console.log(`ok - ${name}`);
  } else {
    failed++;
    console.log(`not ok - ${name}${detail ? `: ${detail}` : ""}`);
  }
}

// A repository on main with orx.yaml for the fake engine and its scenario (two backlog items,
// the first needs one fix: the gate `add_is_right` fails on the first attempt).
function makeRepo() {
  const dir = mkdtempSync(join(tmpdir(), "orx-mcp-e2e-"));
  const git = (...args) => execFileSync("git", args, { cwd: dir, stdio: "pipe" });
  git("init", "-q", "-b", "main");
  git("config", "user.email", "e2e@example.invalid");
  git("config", "user.name", "orx mcp e2e");
  writeFileSync(join(dir, "README.md"), "# sample\n");
  git("add", "-A");
  git("commit", "-q", "-m", "init");
  writeFileSync(
    join(dir, "orx.yaml"),
    [
      'version: "1"',
      "engine:",
      "  type: fake",
      "  scenario: scenario.yaml",
      "git:",
      "  base_branch: main",
      "gates:",
      "  - name: add_is_right",
      "    command: \"test ! -f calc.py || grep -q 'return a + b' calc.py\"",
      "",
    ].join("\n"),
  );
  const j = JSON.stringify;
  const files = (o) =>
    `{files: {${Object.entries(o).map(([p, c]) => `${j(p)}: ${j(c)}`).join(", ")}}}`;
  const text = (t) => `{text: ${j(t)}}`;
  const backlog =
    "Here is the backlog.\n\n```yaml\nitems:\n" +
    "  - id: W001\n    title: Work W001\n    objective: Do W001\n    acceptance: [it works]\n    files_hint: []\n    depends_on: []\n" +
    "  - id: W002\n    title: Work W002\n    objective: Do W002\n    acceptance: [it works]\n    files_hint: []\n    depends_on: [W001]\n" +
    "```\n";
  const approve =
    'Looks good.\n\n```json\n{"verdict": "approved", "summary": "add and mul implemented", "changes": []}\n```\n';
  writeFileSync(
    join(dir, "scenario.yaml"),
    [
      `plan: ${text("# Plan\n\nAdd add() and mul().")}`,
      `spec: ${text("# Spec\n\nadd(a,b) returns a+b; mul(a,b) returns a*b.")}`,
      `decompose: ${text(backlog)}`,
      "implement:",
      `  W001: ${files({ "calc.py": "def add(a, b):\n    return a - b\n" })}`,
      `  W002: ${files({ "mul.py": "def mul(a, b):\n    return a * b\n" })}`,
      "fix:",
      "  W001:",
      `    - ${files({ "calc.py": "def add(a, b):\n    return a + b\n" })}`,
      `review: ${text(approve)}`,
      `knowledge_update: ${files({ "AGENTS.md": "<!-- orx:begin -->\n- gates are shell checks\n<!-- orx:end -->\n" })}`,
      "",
    ].join("\n"),
  );
  return dir;
}

const textOf = (r) => (r.content ?? []).map((c) => c.text ?? "").join("\n");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// Poll run_status until the run is no longer driven by a process and `done(status)` holds.
async function settle(client, id, done) {
  const deadline = Date.now() + 240_000;
  for (;;) {
    const st = await client.callTool({ name: "run_status", arguments: { run_id: id } });
    if (st.isError) throw new Error(`run_status failed: ${textOf(st)}`);
    const status = st.structuredContent;
    if (status.live === false && done(status)) return status;
    if (Date.now() > deadline) throw new Error(`run still ${status.status} after 240 s`);
    await sleep(200);
  }
}

// A run started with `--approve plan` stops awaiting approval; run_reject runs the plan again
// with the feedback in its prompt; an invalid edit is refused; run_approve with an edited plan
// goes on, and the spec stage reads the edit.
async function approvalCheckpoint(client, repo) {
  const started = spawnSync(orx, ["run", "Add add() and mul()", "--approve", "plan", "--no-progress"], {
    cwd: repo,
    env: { ...process.env, CI: "true" },
    encoding: "utf8",
  });
  check("orx run --approve plan exits 4", started.status === 4, `${started.status} ${started.stderr}`);
  const id = (started.stdout.split("\n")[0] ?? "").replace(/^run /, "");
  let st = await settle(client, id, () => true);
  check(
    "run_status shows awaiting_approval and names run_approve",
    st.status === "awaiting_approval" && /run_approve/.test(st.next ?? ""),
    JSON.stringify(st),
  );
  const rej = await client.callTool({
    name: "run_reject",
    arguments: { run_id: id, feedback: "FEEDBACK-FROM-MCP: mention mul()" },
  });
  check("run_reject starts the stage again", !rej.isError, textOf(rej));
  st = await settle(client, id, (s) => s.status !== "running");
  const prompt = readFileSync(join(repo, "runs", id, "prompts", "plan_2.md"), "utf8");
  check(
    "the rejected stage ran again with the feedback and awaits approval again",
    st.status === "awaiting_approval" && prompt.includes("FEEDBACK-FROM-MCP: mention mul()"),
    JSON.stringify(st),
  );
  const bad = await client.callTool({ name: "run_approve", arguments: { run_id: id, content: " " } });
  check(
    "an empty edited plan is a tool error naming the file",
    bad.isError === true && textOf(bad).includes("context/plan.md"),
    textOf(bad),
  );
  const ok = await client.callTool({
    name: "run_approve",
    arguments: { run_id: id, content: "# Plan\n\nEDITED-FROM-MCP\n" },
  });
  check("run_approve with an edited plan goes on", !ok.isError, textOf(ok));
  st = await settle(client, id, (s) => s.status !== "running");
  const spec = readFileSync(join(repo, "runs", id, "prompts", "spec.md"), "utf8");
  check(
    "the approved run succeeds and the spec stage read the edited plan",
    st.status === "succeeded" && spec.includes("EDITED-FROM-MCP"),
    JSON.stringify(st),
  );
}

async function main() {
  const repo = makeRepo();
  const transport = new StdioClientTransport({
    command: orx,
    args: ["mcp", "--repo", repo],
    cwd: repo,
    stderr: "pipe",
    env: { ...process.env, CI: "true" },
  });
  let stderr = "";
  transport.stderr?.on("data", (d) => (stderr += d));
  const client = new Client({ name: "orx-mcp-e2e", version: "1.0.0" });
  try {
    await client.connect(transport);
    const info = client.getServerVersion();
    check("server names itself orx", info?.name === "orx", JSON.stringify(info));
    check(
      "instructions describe the workflow",
      /run_submit[\s\S]*run_status[\s\S]*workspace_sync/.test(client.getInstructions() ?? ""),
    );

    const { tools } = await client.listTools();
    const names = tools.map((t) => t.name).sort();
    const want = [
      "run_approve", "run_artifact", "run_cancel", "run_events", "run_list",
      "run_reject", "run_resume", "run_status", "run_submit", "workspace_sync",
    ];
    check("lists the ten tools", JSON.stringify(names) === JSON.stringify(want), names.join(","));
    const submitTool = tools.find((t) => t.name === "run_submit");
    check(
      "run_submit has a JSON schema requiring task",
      submitTool?.inputSchema?.type === "object" &&
        (submitTool.inputSchema.required ?? []).includes("task") &&
        "engine" in (submitTool.inputSchema.properties ?? {}),
      JSON.stringify(submitTool?.inputSchema),
    );
    check("every tool has a description", tools.every((t) => (t.description ?? "").length > 40));

    const sub = await client.callTool({
      name: "run_submit",
      arguments: { task: "Add add() and mul()" },
    });
    const id = sub.structuredContent?.run_id;
    check("run_submit returns a run id at once", !sub.isError && typeof id === "string", textOf(sub));
    if (!id) throw new Error("no run id; stopping");

    // Re-read until the run ends; the bound only turns a hang into a failure (run.sh's
    // `timeout` is the last resort, and says nothing about why).
    let status;
    const deadline = Date.now() + 240_000;
    const seen = new Set();
    for (;;) {
      const st = await client.callTool({ name: "run_status", arguments: { run_id: id } });
      if (st.isError) throw new Error(`run_status failed: ${textOf(st)}`);
      status = st.structuredContent;
      if (status.stage) seen.add(status.stage);
      // Over once it is final and its process let go of it (it records the status first).
      if (!["running", "waiting"].includes(status.status) && status.live === false) break;
      if (Date.now() > deadline) throw new Error(`run still ${status.status} after 240 s`);
      await sleep(200);
    }
    check("the run succeeds", status.status === "succeeded", JSON.stringify(status));
    check(
      "run_status lists stages with durations",
      status.stages.length >= 7 &&
        status.stages.every((s) => s.status === "done" && typeof s.duration_ms === "number"),
    );

    const ev = await client.callTool({
      name: "run_events",
      arguments: { run_id: id, since: 0, limit: 1000 },
    });
    const events = ev.structuredContent?.events ?? [];
    check(
      "run_events returns the history and a cursor",
      events[0]?.event === "run_started" && ev.structuredContent.next >= events.length,
    );

    const patch = await client.callTool({
      name: "run_artifact",
      arguments: { run_id: id, path: "patch" },
    });
    const diff = patch.content?.[0]?.text ?? "";
    check(
      "run_artifact patch returns the diff",
      !patch.isError && diff.includes("+def mul(a, b):") && diff.includes("+    return a + b"),
      diff.slice(0, 200),
    );
    const plan = await client.callTool({
      name: "run_artifact",
      arguments: { run_id: id, path: "context/plan.md" },
    });
    check("run_artifact reads context/plan.md", textOf(plan).includes("# Plan"));

    const sync = await client.callTool({ name: "workspace_sync", arguments: { run_id: id } });
    const s = sync.structuredContent ?? {};
    check(
      "workspace_sync names the branch, files and merge command",
      s.branch === `orx/${id}` &&
        s.files_changed?.includes("calc.py") &&
        s.commands?.includes(`git merge --ff-only orx/${id}`),
      JSON.stringify(s),
    );

    const list = await client.callTool({ name: "run_list", arguments: { limit: 5 } });
    check("run_list shows the run", list.structuredContent?.runs?.[0]?.run_id === id);

    const unknown = await client.callTool({
      name: "run_status",
      arguments: { run_id: "20990101-000000-abcdef" },
    });
    check(
      "an unknown run is a tool error",
      unknown.isError === true && textOf(unknown).includes("unknown run id"),
      textOf(unknown),
    );
    const escape = await client.callTool({
      name: "run_artifact",
      arguments: { run_id: id, path: "../../../etc/passwd" },
    });
    check(
      "a path out of the run folder is refused",
      escape.isError === true && textOf(escape).includes("refused"),
      textOf(escape),
    );
    const cancel = await client.callTool({ name: "run_cancel", arguments: { run_id: id } });
    check(
      "cancelling a finished run is a tool error",
      cancel.isError === true && textOf(cancel).includes("already ended"),
      textOf(cancel),
    );

    await approvalCheckpoint(client, repo);
  } catch (e) {
    check("the session completes", false, `${e?.stack ?? e}\nserver stderr:\n${stderr}`);
  } finally {
    await client.close().catch(() => {});
    rmSync(repo, { recursive: true, force: true });
  }
  console.log(`${passed} passed, ${failed} failed`);
  process.exit(failed === 0 && passed > 0 ? 0 : 1);
}

main();
