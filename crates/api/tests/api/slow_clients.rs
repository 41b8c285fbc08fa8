//! Slow clients cannot hold the server: a request head not sent in time loses its
//! connection, a body that stalls is answered 408. The deadlines are made short here; the
//! tests wait for the outcome, never for a time.

use std::time::Duration;

use songrec_api::ServeOptions;
use tokio::io::AsyncWriteExt;

use crate::support::{Artifact, Flavour, Spec, TestApp, connect, read_until_closed};

async fn with_short_deadlines() -> TestApp {
    let options = ServeOptions {
        header_read_timeout: Duration::from_millis(300),
        body_read_timeout: Duration::from_millis(300),
        ..ServeOptions::default()
    };
    let (app, _source) =
        TestApp::serving_with(Artifact::Good(Spec::new(30, Flavour::Forward)), options).await;
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_sends_its_headers_too_slowly_is_disconnected() {
    let app = with_short_deadlines().await;
    // Half a request head, then nothing.
    let mut trickling = connect(&app).await;
    trickling
        .write_all(b"GET /health HTTP/1.1\r\nHost: songrec\r\nX-Slow: ")
        .await
        .unwrap();
    let sent = read_until_closed(&mut trickling).await;
    assert!(!sent.contains("200 OK"), "{sent:?}");
    // A connection on which nothing is ever sent.
    let mut silent = connect(&app).await;
    read_until_closed(&mut silent).await;
    // A kept-alive connection that goes quiet after its answer: the deadline runs again.
    let mut quiet = connect(&app).await;
    quiet
        .write_all(b"GET /health HTTP/1.1\r\nHost: songrec\r\n\r\n")
        .await
        .unwrap();
    let sent = read_until_closed(&mut quiet).await;
    assert!(sent.starts_with("HTTP/1.1 200 OK"), "{sent:?}");
    assert_eq!(sent.matches("HTTP/1.1").count(), 1, "{sent:?}");
    // Meanwhile the server answers everyone else.
    assert_eq!(app.get("/health").await.0, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_client_that_stalls_in_the_middle_of_its_body_is_answered_408() {
    let app = with_short_deadlines().await;
    let mut stalled = connect(&app).await;
    stalled
        .write_all(
            b"POST /recommendations HTTP/1.1\r\nHost: songrec\r\n\
              Content-Type: application/json\r\nContent-Length: 100\r\n\r\n{\"seeds\": [10",
        )
        .await
        .unwrap();
    let sent = read_until_closed(&mut stalled).await;
    assert!(sent.starts_with("HTTP/1.1 408"), "{sent:?}");
    let body = &sent[sent.find("\r\n\r\n").expect("a whole answer") + 4..];
    let body: serde_json::Value = serde_json::from_str(body).unwrap();
    assert!(
        body["error"].as_str().unwrap().contains("did not arrive"),
        "{body}"
    );
    // The same body sent whole is answered.
    let (status, body) = app
        .post_json("/recommendations", r#"{"seeds": [1000]}"#)
        .await;
    assert_eq!(status, 200, "{body}");
}
