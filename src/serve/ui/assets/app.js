// orx dashboard: the live agent log tail (EventSource over the API's event stream) with a
// search box, and a nudge to htmx so the run page's live part refreshes on every new event.
// The tail tells the run's normalised events as `orx logs` does: one line per tool call in the
// words every CLI shares (`edit calc.py`, `run pytest -q`), a failed tool's answer, gates with
// the lines they failed on; never a raw JSON line of an agent's stream.
// All text goes into the DOM through textContent, never innerHTML.
(function () {
  "use strict";
  var MAX_LINES = 5000;

  function short(s, n) {
    s = String(s == null ? "" : s);
    return s.length > n ? s.slice(0, n) + "…" : s;
  }

  function where(ev) {
    return ev.item ? ev.stage + "/" + ev.item : ev.stage || "";
  }

  function usage(u) {
    u = u || {};
    return (u.input_tokens || 0) + " in / " + (u.output_tokens || 0) + " out tokens, $" + Number(u.cost_usd || 0).toFixed(4);
  }

  // A gate's result and, when it failed, the lines it failed on (parsed failures, else the
  // last lines of its output), as `orx logs` tells them.
  function gate(ev) {
    var r = ev.result || {};
    var text = "[verify/" + ev.item + "] gate " + r.name + (r.passed ? " passed" : " FAILED") +
      (r.error ? ": " + r.error : (!r.passed && r.exit_code != null ? " with exit " + r.exit_code : ""));
    if (r.passed) return ["ok", text];
    var lines = [];
    (r.failures || []).slice(0, 6).forEach(function (f) {
      var at = f.file ? f.file + (f.line != null ? ":" + f.line : "") + ": " : "";
      lines.push(at + (f.code ? f.code + ": " : "") + f.message);
    });
    if (!lines.length) {
      lines = String(r.tail || "").split("\n").filter(function (l) { return l.trim(); }).slice(-6);
    }
    return ["bad", [text].concat(lines.map(function (l) { return "    " + l; })).join("\n")];
  }

  // One agent event, normalised as every CLI's parser reports it → [css class, text], or null
  // for what a person does not need (reasoning, a change the tool call line already told).
  function agent(ev) {
    var a = ev.agent || {};
    var p = "[" + where(ev) + "] ";
    switch (a.type) {
      case "text": return ["agent", p + a.text];
      case "tool_call":
        if (a.kind && a.kind !== "other") return ["tool", p + a.kind + " " + (a.target || "")];
        return ["tool", p + a.name + " " + (a.target || short(a.input, 200))];
      case "tool_result":
        if (!a.ok) return ["bad", p + "→ failed" + (a.summary ? ": " + a.summary : "")];
        if (a.kind === "run" && a.summary) return ["tool", p + "→ " + a.summary];
        return null;
      case "usage": return ["muted", p + "usage: " + usage(a.usage)];
      case "error": return ["bad", p + "error: " + a.message];
      case "rate_limited": return ["bad", p + "rate limited: " + a.message];
      case "session_started": return ["muted", p + "session " + a.session_id + (a.model ? " (" + a.model + ")" : "")];
      case "finished": return a.is_error ? ["bad", p + "finished with an error"] : null;
      case "reasoning":
      case "command_run":
      case "file_change":
        return null;
      default: return ["muted", p + a.type];
    }
  }

  // One event → [css class, text], or null when it adds nothing to the log.
  function describe(ev) {
    var k = ev.event;
    switch (k) {
      case "run_started": return ["run", "run started: " + short(ev.task, 200) + " (engine " + ev.engine + ", branch " + ev.branch + ")"];
      case "run_resumed": return ["run", "run resumed at " + (ev.stage || "start") + " (resume " + ev.resumes + ")"];
      case "stage_started": return ["stage", "▶ " + ev.stage];
      case "stage_finished": return ["stage", "■ " + ev.stage + " " + ev.status + " in " + ev.duration_ms + " ms"];
      case "item_started": return ["stage", "▶ item " + ev.item + ": " + ev.title];
      case "attempt_started": return ["stage", "[" + ev.item + "] attempt " + ev.attempt + " (" + ev.kind + ")"];
      case "attempt_finished": return [ev.outcome === "passed" ? "ok" : "bad", "[" + ev.item + "] attempt " + ev.attempt + ": " + ev.outcome];
      case "item_finished": return [ev.status === "done" ? "ok" : "bad", "■ item " + ev.item + " " + ev.status];
      case "agent": return agent(ev);
      case "agent_finished": return [ev.ok ? "ok" : "bad", "[" + where(ev) + "] agent " + (ev.ok ? "ok" : "failed" + (ev.failure ? " (" + ev.failure + ")" : "")) + " in " + ev.duration_ms + " ms" + (ev.ok ? "" : ev.message ? ": " + ev.message : "")];
      case "gate_started": return ["gate", "gate " + ev.gate + " on " + ev.item + " (attempt " + ev.attempt + ")"];
      case "gate_finished": return gate(ev);
      case "review_verdict": return [ev.verdict === "approved" ? "ok" : "bad", "review round " + ev.round + ": " + ev.verdict + " — " + short(ev.summary, 300)];
      case "run_finished": return ["run", "run finished: " + ev.status + (ev.message ? ": " + ev.message : "")];
      case "warning": return ["bad", "warning: " + (ev.message || JSON.stringify(ev))];
      default: {
        var parts = [];
        for (var key in ev) {
          if (key === "seq" || key === "ts" || key === "run_id" || key === "event") continue;
          var v = ev[key];
          parts.push(key + "=" + (typeof v === "object" ? short(JSON.stringify(v), 200) : v));
        }
        return ["muted", k.replace(/_/g, " ") + " " + parts.join(" ")];
      }
    }
  }

  function render(line, needle) {
    var text = line.dataset.text;
    line.textContent = "";
    if (!needle) {
      line.textContent = text;
      line.hidden = false;
      return 0;
    }
    var lower = text.toLowerCase();
    var at = lower.indexOf(needle);
    if (at < 0) {
      line.textContent = text;
      line.hidden = true;
      return 0;
    }
    line.hidden = false;
    var from = 0, hits = 0;
    while (at >= 0) {
      line.appendChild(document.createTextNode(text.slice(from, at)));
      var m = document.createElement("mark");
      m.textContent = text.slice(at, at + needle.length);
      line.appendChild(m);
      hits++;
      from = at + needle.length;
      at = lower.indexOf(needle, from);
    }
    line.appendChild(document.createTextNode(text.slice(from)));
    return hits;
  }

  function startTail(tail) {
    var id = tail.dataset.run;
    var log = document.getElementById("tail-log");
    var search = document.getElementById("tail-search");
    var counter = document.getElementById("tail-count");
    var state = document.getElementById("tail-state");
    var needle = "";
    var pending = null;

    function refilter() {
      needle = search.value.trim().toLowerCase();
      var hits = 0, shown = 0;
      for (var i = 0; i < log.children.length; i++) {
        hits += render(log.children[i], needle);
        if (!log.children[i].hidden) shown++;
      }
      counter.textContent = needle ? hits + " matches in " + shown + " lines" : log.children.length + " lines";
    }

    function nudge() {
      // Tell htmx (hx-trigger "orx-event from:body") to refresh the live part, at most ~3/s.
      if (pending) return;
      pending = setTimeout(function () {
        pending = null;
        document.body.dispatchEvent(new CustomEvent("orx-event"));
      }, 300);
    }

    search.addEventListener("input", refilter);
    var es = new EventSource("/api/runs/" + encodeURIComponent(id) + "/events/stream");
    es.onopen = function () { state.textContent = "live"; };
    es.onmessage = function (msg) {
      var ev;
      try { ev = JSON.parse(msg.data); } catch (e) { return; }
      var d = describe(ev);
      if (!d) { nudge(); return; }
      var line = document.createElement("div");
      line.className = "ev " + d[0];
      line.dataset.event = ev.event;
      line.dataset.seq = ev.seq;
      line.dataset.text = (ev.ts || "").slice(11, 19) + " " + d[1];
      var stick = log.scrollTop + log.clientHeight >= log.scrollHeight - 20;
      render(line, needle);
      log.appendChild(line);
      while (log.children.length > MAX_LINES) log.removeChild(log.firstChild);
      if (stick) log.scrollTop = log.scrollHeight;
      counter.textContent = needle ? counter.textContent : log.children.length + " lines";
      nudge();
    };
    es.addEventListener("end", function (msg) {
      es.close();
      var info = {};
      try { info = JSON.parse(msg.data); } catch (e) { /* keep {} */ }
      state.textContent = "ended" + (info.status ? " (" + info.status + ")" : "");
      tail.dataset.ended = "1";
      nudge();
    });
    es.onerror = function () {
      if (es.readyState === EventSource.CLOSED) state.textContent = "disconnected";
      else state.textContent = "reconnecting…";
    };
  }

  document.addEventListener("DOMContentLoaded", function () {
    var tail = document.getElementById("tail");
    if (tail) startTail(tail);
  });
})();
