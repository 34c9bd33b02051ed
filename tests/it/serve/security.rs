//! The security layer against a real server: path traversal in artifact paths, Host and
//! Origin checks, POST-only actions, and the token of a non-loopback bind (reached through
//! 127.0.0.1 only).

use serde_json::json;

use super::{serve_repo, Server};

#[test]
fn crafted_artifact_paths_cannot_read_outside_the_run_folder() {
    let repo = serve_repo(0);
    let run = repo.run("add and mul", &[]);
    run.expect_code(0);
    let id = run.id.clone();
    // A secret next to the run folder, and a symlink an agent could have left inside it.
    let secret = "TOP-SECRET-4f1d";
    std::fs::write(repo.path().join("runs/secret.txt"), secret).unwrap();
    std::fs::write(repo.path().join("secret.txt"), secret).unwrap();
    let arts = repo.run_dir(&id).join("artifacts");
    std::os::unix::fs::symlink(repo.path().join("secret.txt"), arts.join("evil.txt")).unwrap();
    std::os::unix::fs::symlink("/etc", arts.join("etc")).unwrap();
    let s = Server::start(repo.path(), &[], &[]);

    for path in [
        "../secret.txt",
        "../../secret.txt",
        "artifacts/../../secret.txt",
        "%2e%2e/secret.txt",
        "%2E%2E%2F%2E%2E%2Fsecret.txt",
        "artifacts%2F..%2F..%2F..%2Fsecret.txt",
        "%2Fetc%2Fpasswd",
        "/etc/passwd",
        "artifacts/evil.txt",
        "artifacts/etc/passwd",
        "logs%00/x",
        "lock",
    ] {
        let r = s.get(&format!("/api/runs/{id}/artifacts/{path}"));
        assert!(
            matches!(r.status, 400 | 404),
            "{path}: status {} {}",
            r.status,
            r.text()
        );
        let body = r.text();
        assert!(
            !body.contains(secret) && !body.contains("root:"),
            "{path} leaked: {body}"
        );
        assert!(r.json()["error"].is_string(), "{path}: {body}");
    }
    // Run ids are checked too.
    for bad in ["..", "%2e%2e", "..%2Fsecret.txt"] {
        let r = s.get(&format!("/api/runs/{bad}/artifacts/secret.txt"));
        assert!(matches!(r.status, 400 | 404), "{bad}: {}", r.status);
        assert!(!r.text().contains(secret));
    }
    // And the listing does not follow the symlinks.
    let list = s.get(&format!("/api/runs/{id}/artifacts")).text();
    assert!(
        !list.contains("evil.txt") && !list.contains("passwd"),
        "{list}"
    );
}

#[test]
fn host_origin_and_method_are_checked() {
    let repo = serve_repo(0);
    let s = Server::start(repo.path(), &[], &[]);
    let port = s.port.to_string();
    assert_eq!(s.get("/api/runs").status, 200);
    for host in ["localhost", "[::1]"] {
        let h = format!("{host}:{port}");
        assert_eq!(
            s.req("GET", "/api/runs", &[("Host", &h)], None).status,
            200,
            "{host}"
        );
    }
    for host in ["evil.example".to_string(), format!("evil.example:{port}")] {
        let r = s.req("GET", "/api/runs", &[("Host", &host)], None);
        assert_eq!(r.status, 403, "{host}");
        assert!(r.json()["error"]
            .as_str()
            .unwrap()
            .contains("DNS rebinding"));
    }
    let wrong_port = s.req("GET", "/api/runs", &[("Host", "127.0.0.1:1")], None);
    assert_eq!(wrong_port.status, 403);

    // Cross-site POST refused; same-origin POST goes through to validation.
    let body = json!({"task": " "}).to_string();
    let evil = s.req(
        "POST",
        "/api/runs",
        &[
            ("Origin", "http://evil.example"),
            ("Content-Type", "application/json"),
        ],
        Some(body.as_bytes()),
    );
    assert_eq!(evil.status, 403);
    assert!(evil.json()["error"].as_str().unwrap().contains("Origin"));
    let own = format!("http://127.0.0.1:{port}");
    let same = s.req(
        "POST",
        "/api/runs",
        &[("Origin", &own), ("Content-Type", "application/json")],
        Some(body.as_bytes()),
    );
    assert_eq!(same.status, 400, "{}", same.text());

    // State changes are POST only.
    for path in [
        "/api/runs/20261121-120059-a1b2c3/cancel",
        "/api/runs/20261121-120059-a1b2c3/resume",
        "/api/runs/20261121-120059-a1b2c3/clean",
    ] {
        let r = s.get(path);
        assert_eq!(r.status, 405, "{path}");
        assert_eq!(r.header("allow"), Some("POST"));
        assert!(r.json()["error"].as_str().unwrap().contains("POST"));
    }
    assert_eq!(s.req("DELETE", "/api/runs", &[], None).status, 405);
    assert_eq!(s.req("PUT", "/api/runs/x", &[], None).status, 405);
}

#[test]
fn a_non_loopback_bind_requires_the_token() {
    let repo = serve_repo(0);
    // A generated token, printed at start.
    let s = Server::start(repo.path(), &["--bind", "0.0.0.0"], &[]);
    let token = s.token.clone().expect("a token line");
    assert_eq!(token.len(), 64);
    let r = s.get("/api/runs");
    assert_eq!(r.status, 401);
    assert!(r.json()["error"].as_str().unwrap().contains("token"));
    assert_eq!(s.get("/").status, 401);
    let wrong = s.req(
        "GET",
        "/api/runs",
        &[("Authorization", "Bearer nope")],
        None,
    );
    assert_eq!(wrong.status, 401);
    let bearer = format!("Bearer {token}");
    let ok = s.req("GET", "/api/runs", &[("Authorization", &bearer)], None);
    assert_eq!(ok.status, 200, "{}", ok.text());
    // The dashboard's way in: ?token= sets an HttpOnly, SameSite=Strict cookie and redirects.
    let login = s.get(&format!("/?token={token}&x=1"));
    assert_eq!(login.status, 303);
    assert_eq!(login.header("location"), Some("/?x=1"));
    let cookie = login.header("set-cookie").unwrap().to_string();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"),
        "{cookie}"
    );
    let pair = cookie.split(';').next().unwrap().to_string();
    assert_eq!(s.req("GET", "/", &[("Cookie", &pair)], None).status, 200);
    assert_eq!(s.get("/?token=wrong").status, 401);
    // Host checks still apply with a token.
    let evil = s.req(
        "GET",
        "/api/runs",
        &[("Authorization", &bearer), ("Host", "evil.example")],
        None,
    );
    assert_eq!(evil.status, 403);
    drop(s);

    // ORX_SERVE_TOKEN sets it.
    let t = "0123456789abcdef-fixed-token";
    let s = Server::start(
        repo.path(),
        &["--bind", "0.0.0.0"],
        &[("ORX_SERVE_TOKEN", t)],
    );
    assert_eq!(s.token.as_deref(), Some(t));
    assert_eq!(s.get("/api/health").status, 401);
    let ok = s.req(
        "GET",
        "/api/runs",
        &[("Authorization", &format!("Bearer {t}"))],
        None,
    );
    assert_eq!(ok.status, 200);
}

#[test]
fn a_run_folder_that_is_a_symlink_is_not_a_run_and_the_lock_is_never_served() {
    let repo = serve_repo(0);
    let run = repo.run("add and mul", &[]);
    run.expect_code(0);
    let id = run.id.clone();
    // A repository can commit `runs/<id>` as a symlink to `/`, and `runs` itself as a
    // symlink to a folder of run-shaped links.
    let runs = repo.path().join("runs");
    std::os::unix::fs::symlink("/", runs.join("20260101-000000-aaaaaa")).unwrap();
    let elsewhere = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink("/", elsewhere.path().join("20260101-000000-bbbbbb")).unwrap();
    let s = Server::start(repo.path(), &[], &[]);
    for target in [
        "/api/runs/20260101-000000-aaaaaa/artifacts/etc/passwd",
        "/api/runs/20260101-000000-aaaaaa/artifacts",
        "/api/runs/20260101-000000-aaaaaa",
    ] {
        let r = s.get(target);
        assert_eq!(r.status, 404, "{target}: {} {}", r.status, r.text());
        assert!(!r.text().contains("root:"), "{target} leaked: {}", r.text());
    }
    // The lock, however it is spelled.
    for path in ["./lock", "%2e/lock", ".%2flock", "./././lock", "lock/"] {
        let r = s.get(&format!("/api/runs/{id}/artifacts/{path}"));
        assert!(
            matches!(r.status, 400 | 404),
            "{path}: status {} {}",
            r.status,
            r.text()
        );
    }
    drop(s);

    // A symlinked `runs/` holds no runs either.
    let other = serve_repo(0);
    let _ = std::fs::remove_dir(other.path().join("runs"));
    std::os::unix::fs::symlink(elsewhere.path(), other.path().join("runs")).unwrap();
    let s = Server::start(other.path(), &[], &[]);
    let r = s.get("/api/runs/20260101-000000-bbbbbb/artifacts/etc/passwd");
    assert_eq!(r.status, 404, "{} {}", r.status, r.text());
    assert!(!r.text().contains("root:"));
    let listed = s.get("/api/runs").json();
    assert_eq!(listed["total"], 0, "{listed}");
}

#[test]
fn idle_connections_beyond_the_cap_and_the_file_limit_do_not_lock_clients_out() {
    use std::io::Read;
    use std::net::TcpStream;
    let repo = serve_repo(0);
    // 128 open files at most: 200 idle connections would exhaust them without a cap.
    let s = Server::start_limited(repo.path(), &["--header-timeout-ms", "300"], 128);
    let mut idle: Vec<TcpStream> = (0..200)
        .map(|_| TcpStream::connect(("127.0.0.1", s.port)).expect("connect"))
        .collect();
    // A real client still gets its answer (it waits its turn; the idle ones are shed).
    let r = s.get("/api/runs");
    assert_eq!(r.status, 200, "{}", r.text());
    // The server closes the idle sockets itself: a read sees the end of the stream.
    for c in idle.iter_mut().take(10) {
        c.set_read_timeout(Some(std::time::Duration::from_secs(60)))
            .unwrap();
        let mut buf = [0u8; 64];
        match c.read(&mut buf) {
            Ok(0) => {}
            Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {}
            other => panic!("an idle connection was not closed by the server: {other:?}"),
        }
    }
    // And it keeps answering afterwards.
    assert_eq!(s.get("/api/runs").status, 200);
}
