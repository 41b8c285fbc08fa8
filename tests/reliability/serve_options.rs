//! `songrec serve`'s HTTP options as a user gives them: CORS origins from `--cors-origin` or
//! `SONGREC_CORS_ORIGINS` (none by default), the admin token from `SONGREC_ADMIN_TOKEN`.

use crate::support::Server;

const ORIGIN_A: &str = "https://a.example.com";
const ORIGIN_B: &str = "https://b.example.com";
const ADMIN_TOKEN: &str = "adm-Qx7Secret-reload";

/// Environment variables of one `serve`.
type Env<'a> = &'a [(&'a str, &'a str)];

/// The `Access-Control-Allow-Origin` answered to `origin` on `/health`.
async fn allowed(server: &Server, origin: &str) -> Option<String> {
    let response = reqwest::Client::new()
        .get(format!("{}/health", server.base))
        .header("origin", origin)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    response
        .headers()
        .get("access-control-allow-origin")
        .map(|v| v.to_str().unwrap().to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cors_origins_come_from_the_flag_or_the_environment_and_default_to_none() {
    let both = format!("{ORIGIN_A},{ORIGIN_B}");
    let cases: [(Env, &[&str], bool); 3] = [
        (&[], &[], false),
        (&[("SONGREC_CORS_ORIGINS", &both)], &[], true),
        (
            &[],
            &["--cors-origin", ORIGIN_A, "--cors-origin", ORIGIN_B],
            true,
        ),
    ];
    for (env, args, on) in cases {
        let dir = tempfile::tempdir().unwrap();
        let server = Server::start_with(dir.path(), env, args);
        for origin in [ORIGIN_A, ORIGIN_B] {
            let want = on.then(|| origin.to_owned());
            assert_eq!(allowed(&server, origin).await, want, "{env:?} {args:?}");
        }
        assert_eq!(
            allowed(&server, "https://c.example.com").await,
            None,
            "{env:?} {args:?}"
        );
        server.stop();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_reload_takes_its_token_from_the_environment_and_exists_only_with_one() {
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[("SONGREC_ADMIN_TOKEN", ADMIN_TOKEN)]);
    let client = reqwest::Client::new();
    let reload = |token: Option<&str>| {
        let mut request = client.post(format!("{}/admin/reload", server.base));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        request.send()
    };
    assert_eq!(reload(None).await.unwrap().status(), 401);
    assert_eq!(reload(Some("wrong")).await.unwrap().status(), 401);
    let response = reload(Some(ADMIN_TOKEN)).await.unwrap();
    assert_eq!(response.status(), 200);
    let log = server.stop();
    assert!(!log.contains(ADMIN_TOKEN), "the log shows the token: {log}");

    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(dir.path(), &[]);
    let response = client
        .post(format!("{}/admin/reload", server.base))
        .bearer_auth(ADMIN_TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    server.stop();
}
