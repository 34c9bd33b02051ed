//! The dashboard end to end, without a browser (e2e/browser/ drives one): a real `orx serve`
//! renders the run list, the run page, the diff, the artifact explorer and a gate log from a
//! real run folder; hostile task text comes out escaped; POST forms answer 303 or a visible
//! error; the security layer guards the dashboard like the API.

use super::{serve_repo, wait_not_live, Server};

const HOSTILE: &str = "Add <script>alert('x')</script> & \"quote\" handling";

fn form(s: &Server, target: &str, body: &str, origin: Option<&str>) -> super::client::Resp {
    let mut h = vec![("Content-Type", "application/x-www-form-urlencoded")];
    if let Some(o) = origin {
        h.push(("Origin", o));
    }
    s.req("POST", target, &h, Some(body.as_bytes()))
}

#[test]
fn dashboard_pages_render_a_real_run() {
    let repo = serve_repo(0);
    let run = repo.run(HOSTILE, &[]);
    run.expect_code(0);
    let id = run.id.clone();
    let s = Server::start(repo.path(), &[], &[]);

    let home = s.get("/");
    assert_eq!(home.status, 200);
    assert!(home
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    assert!(home
        .header("content-security-policy")
        .unwrap()
        .contains("script-src 'self'"));
    let html = home.text();
    assert!(html.contains(&format!("href=\"/runs/{id}\"")), "{html}");
    assert!(html
        .contains("Add &lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;quote&quot;"));
    assert!(!html.contains("<script>alert"), "task text must be escaped");
    assert!(html.contains("<form method=\"post\" action=\"/ui/runs\""));

    // The fragment honours filters.
    let none = s.get("/ui/runs?q=nothing-matches-this").text();
    assert!(none.contains("data-total=\"0\""), "{none}");
    let some = s.get("/ui/runs?status=succeeded").text();
    assert!(some.contains("data-total=\"1\""), "{some}");

    let page = s.get(&format!("/runs/{id}"));
    assert_eq!(page.status, 200);
    let p = page.text();
    for stage in ["plan", "spec", "decompose", "implement", "verify", "review"] {
        assert!(
            p.contains(&format!("data-stage=\"{stage}\" data-status=\"done\"")),
            "{stage} done: {p}"
        );
    }
    assert!(p.contains("data-item=\"W001\"") && p.contains("data-item=\"W002\""));
    assert!(p.contains("data-status=\"succeeded\" data-live=\"false\""));
    assert!(
        !p.contains("hx-trigger=\"every 1s"),
        "a finished run page does not poll"
    );
    assert!(p.contains(&format!("id=\"tail\" data-run=\"{id}\"")));
    let log = p
        .split("class=\"gate-log\" href=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .expect("a gate log link")
        .to_string();
    let gate = s.get(&log);
    assert_eq!(gate.status, 200, "{log}");
    assert!(gate.text().contains("<div class=\"viewer\""));

    let diff = s.get(&format!("/runs/{id}/diff")).text();
    assert!(diff.contains("data-path=\"calc.py\""), "{diff}");
    assert!(diff.contains("<span class=\"tk-kw\">def</span> add(a, b):"));

    let files = s.get(&format!("/runs/{id}/files")).text();
    for kind in ["context", "prompts", "logs"] {
        assert!(files.contains(&format!("data-kind=\"{kind}\"")), "{kind}");
    }
    let plan = s.get(&format!("/runs/{id}/files/context/plan.md"));
    assert_eq!(plan.status, 200);
    assert!(plan.text().contains("# Plan"));
    let escape = s.get(&format!("/runs/{id}/files/..%2F..%2Forx.yaml"));
    assert_eq!(escape.status, 400, "traversal refused");

    let missing = s.get("/runs/20000101-000000-abcdef");
    assert_eq!(missing.status, 404);
    assert!(missing.text().contains("role=\"alert\""));

    let asset = s.get("/assets/htmx.min.js");
    assert_eq!(asset.status, 200);
    assert!(asset.header("cache-control").unwrap().contains("immutable"));
    assert!(asset.text().starts_with("/*! htmx 2."));
    assert_eq!(s.get("/assets/nope.js").status, 404);
}

#[test]
fn dashboard_forms_start_and_report_errors() {
    let repo = serve_repo(0);
    let s = Server::start(repo.path(), &[], &[]);
    let own = format!("http://127.0.0.1:{}", s.port);

    // A bad base branch: the page comes back with the error visible and the task kept.
    let bad = form(
        &s,
        "/ui/runs",
        "task=keep+%3Cme%3E&engine=fake&base_branch=no-such-branch",
        Some(&own),
    );
    assert_eq!(bad.status, 400);
    let t = bad.text();
    assert!(
        t.contains("role=\"alert\"") && t.contains("no-such-branch"),
        "{t}"
    );
    assert!(t.contains(">keep &lt;me&gt;</textarea>"), "{t}");

    // A cross-site form post is refused by the security layer.
    let evil = form(&s, "/ui/runs", "task=x", Some("http://evil.example"));
    assert_eq!(evil.status, 403);

    // A good one redirects to the new run page.
    let ok = form(
        &s,
        "/ui/runs",
        "task=Add+add+and+mul&engine=fake",
        Some(&own),
    );
    assert_eq!(ok.status, 303, "{}", ok.text());
    let loc = ok.header("location").unwrap().to_string();
    let id = loc.strip_prefix("/runs/").unwrap().to_string();
    wait_not_live(&s, &id);
    let page = s.get(&loc).text();
    assert!(page.contains("data-status=\"succeeded\""), "{page}");

    // Cancelling a finished run is a visible 409, not a blank page.
    let c = form(&s, &format!("/runs/{id}/cancel"), "", Some(&own));
    assert_eq!(c.status, 409);
    assert!(c.text().contains("Could not cancel the run"));
    // GET on an action is not allowed.
    assert_eq!(s.get(&format!("/runs/{id}/cancel")).status, 405);
}
