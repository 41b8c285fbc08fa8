//! A small client for the MLflow tracking server's REST API: the calls songrec needs, the wire
//! types they exchange, and MLflow's errors turned into [`RegistryError`]s that say what failed.

use std::path::Path;
use std::time::Duration;

use reqwest::{Method, StatusCode};
use secrecy::{ExposeSecret, SecretString};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use url::Url;

use crate::RegistryError;

/// How long one call may take by default (`MlflowConfig::timeout`): a JSON call whole, an
/// artifact download between two reads, an upload plus [`UPLOAD_BYTES_PER_SECOND`].
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The slowest upload allowed on top of the call timeout: a model of hundreds of megabytes
/// still gets minutes, a stalled server does not hold a training run forever.
const UPLOAD_BYTES_PER_SECOND: u64 = 1 << 20;
/// Largest JSON answer read from MLflow. songrec's calls return one run, one model version or
/// one page of versions (kilobytes); more than this is not MLflow answering normally.
pub const MAX_BODY_BYTES: usize = 16 << 20;
/// Most of an error body read, for its message.
const MAX_ERROR_BODY_BYTES: usize = 64 << 10;
/// Read-only calls are retried this many times on a connection error or a 5xx answer, with the
/// delays below, so that a server restarting under a polling server does not cause a failure.
const READ_RETRY_DELAYS: [Duration; 2] = [Duration::from_millis(250), Duration::from_secs(1)];

/// Credentials sent with every request.
#[derive(Clone, Default)]
pub enum MlflowAuth {
    #[default]
    None,
    /// `MLFLOW_TRACKING_TOKEN`, sent as a bearer token.
    Token(SecretString),
    /// `MLFLOW_TRACKING_USERNAME` and `MLFLOW_TRACKING_PASSWORD`, sent as HTTP basic auth.
    Basic {
        username: String,
        password: SecretString,
    },
}

impl std::fmt::Debug for MlflowAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MlflowAuth::None => f.write_str("None"),
            MlflowAuth::Token(_) => f.write_str("Token(<redacted>)"),
            MlflowAuth::Basic { username, .. } => {
                write!(
                    f,
                    "Basic {{ username: {username:?}, password: <redacted> }}"
                )
            }
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct KeyValue {
    pub key: String,
    #[serde(default)]
    pub value: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Experiment {
    pub experiment_id: String,
    #[serde(default)]
    pub lifecycle_stage: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct RunInfo {
    pub run_id: String,
    #[serde(default)]
    pub artifact_uri: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Metric {
    pub key: String,
    pub value: f64,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RunData {
    #[serde(default)]
    pub metrics: Vec<Metric>,
    #[serde(default)]
    pub params: Vec<KeyValue>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Run {
    pub info: RunInfo,
    #[serde(default)]
    pub data: RunData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ModelVersion {
    pub version: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub creation_timestamp: Option<i64>,
    #[serde(default)]
    pub run_id: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub tags: Vec<KeyValue>,
    #[serde(default)]
    pub aliases: Vec<String>,
}

impl ModelVersion {
    pub fn number(&self) -> Result<u64, RegistryError> {
        self.version.parse().map_err(|_| {
            RegistryError::Corrupt(format!(
                "MLflow model version {:?} is not a number",
                self.version
            ))
        })
    }

    pub fn tag(&self, key: &str) -> Option<&str> {
        self.tags
            .iter()
            .find(|t| t.key == key)
            .map(|t| t.value.as_str())
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct RegisteredModel {
    #[serde(default)]
    pub tags: Vec<KeyValue>,
}

/// int64 fields arrive as JSON numbers or, from some servers, as strings.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    Ok(match Option::<Value>::deserialize(d)? {
        Some(Value::Number(n)) => n.as_i64(),
        Some(Value::String(s)) => s.parse().ok(),
        _ => None,
    })
}

/// MLflow's error body.
#[derive(Debug, Deserialize)]
struct ErrorBody {
    #[serde(default)]
    error_code: String,
    #[serde(default)]
    message: String,
}

/// An MLflow error code that callers branch on.
pub const RESOURCE_DOES_NOT_EXIST: &str = "RESOURCE_DOES_NOT_EXIST";
pub const RESOURCE_ALREADY_EXISTS: &str = "RESOURCE_ALREADY_EXISTS";

pub struct Client {
    http: reqwest::Client,
    base: Url,
    /// The tracking URI without credentials, for messages.
    shown: String,
    auth: MlflowAuth,
    timeout: Duration,
}

impl Client {
    /// A client whose calls give up after `timeout` (see [`DEFAULT_TIMEOUT`]).
    pub fn new(
        tracking_uri: &Url,
        auth: MlflowAuth,
        timeout: Duration,
    ) -> Result<Client, RegistryError> {
        if !matches!(tracking_uri.scheme(), "http" | "https") {
            return Err(RegistryError::InvalidInput(format!(
                "MLflow tracking URI must be http(s)://..., got scheme {:?}",
                tracking_uri.scheme()
            )));
        }
        let mut base = tracking_uri.clone();
        // Credentials in the URI become basic auth unless others were given.
        let auth = match auth {
            MlflowAuth::None if !base.username().is_empty() => MlflowAuth::Basic {
                username: base.username().to_string(),
                password: SecretString::from(base.password().unwrap_or_default().to_string()),
            },
            other => other,
        };
        let _ = base.set_username("");
        let _ = base.set_password(None);
        if !base.path().ends_with('/') {
            let path = format!("{}/", base.path());
            base.set_path(&path);
        }
        let shown = base.as_str().trim_end_matches('/').to_string();
        let timeout = timeout.max(Duration::from_millis(1));
        let http = reqwest::Client::builder()
            .connect_timeout(CONNECT_TIMEOUT.min(timeout))
            // Between two reads of an answer, downloads included.
            .read_timeout(timeout)
            .user_agent(concat!("songrec/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| RegistryError::InvalidInput(format!("cannot build HTTP client: {e}")))?;
        Ok(Client {
            http,
            base,
            shown,
            auth,
            timeout,
        })
    }

    pub fn shown_uri(&self) -> &str {
        &self.shown
    }

    fn url(&self, path: &str) -> Result<Url, RegistryError> {
        self.base
            .join(path)
            .map_err(|e| RegistryError::InvalidInput(format!("bad MLflow URL path {path}: {e}")))
    }

    fn request(&self, method: Method, url: Url) -> reqwest::RequestBuilder {
        let builder = self.http.request(method, url);
        match &self.auth {
            MlflowAuth::None => builder,
            MlflowAuth::Token(token) => builder.bearer_auth(token.expose_secret()),
            MlflowAuth::Basic { username, password } => {
                builder.basic_auth(username, Some(password.expose_secret()))
            }
        }
    }

    fn unreachable(&self, operation: &str, e: reqwest::Error) -> RegistryError {
        if e.is_timeout() {
            return self.timed_out(operation, self.timeout);
        }
        // Without the URL: the tracking URI is already in the message, shown without credentials.
        let e = e.without_url();
        RegistryError::MlflowUnreachable {
            uri: self.shown.clone(),
            operation: operation.to_string(),
            reason: error_chain(&e),
        }
    }

    fn timed_out(&self, operation: &str, after: Duration) -> RegistryError {
        RegistryError::MlflowTimedOut {
            uri: self.shown.clone(),
            operation: operation.to_string(),
            seconds: after.as_secs_f64(),
        }
    }

    fn body_error(&self, operation: &str, e: BodyError) -> RegistryError {
        match e {
            BodyError::Read(e) => self.unreachable(operation, e),
            BodyError::TooLarge(limit) => RegistryError::Mlflow {
                operation: operation.to_string(),
                code: "BAD_RESPONSE".into(),
                message: format!("answer larger than {limit} bytes; refused"),
            },
        }
    }

    /// A JSON call to `api/2.0/mlflow/<endpoint>`: GET with `query`, or POST with `body`.
    pub async fn call<T: DeserializeOwned>(
        &self,
        method: Method,
        endpoint: &str,
        query: &[(&str, &str)],
        body: Option<Value>,
    ) -> Result<T, RegistryError> {
        let url = self.url(&format!("api/2.0/mlflow/{endpoint}"))?;
        let idempotent = method == Method::GET;
        let mut attempt = 0;
        loop {
            let mut builder = self
                .request(method.clone(), url.clone())
                .timeout(self.timeout)
                .query(query);
            if let Some(body) = &body {
                builder = builder.json(body);
            }
            let outcome = match builder.send().await {
                Ok(response) => {
                    let status = response.status();
                    let text = read_capped(response, MAX_BODY_BYTES)
                        .await
                        .map_err(|e| self.body_error(endpoint, e));
                    text.map(|t| (status, t))
                }
                Err(e) => Err(self.unreachable(endpoint, e)),
            };
            let retryable = match &outcome {
                Err(e) => matches!(e, RegistryError::MlflowUnreachable { .. }),
                Ok((status, _)) => status.is_server_error(),
            };
            if idempotent && retryable && attempt < READ_RETRY_DELAYS.len() {
                tokio::time::sleep(READ_RETRY_DELAYS[attempt]).await;
                attempt += 1;
                continue;
            }
            let (status, text) = outcome?;
            if !status.is_success() {
                return Err(api_error(endpoint, status, &text));
            }
            let text = if text.trim().is_empty() { "{}" } else { &text };
            return serde_json::from_str(text).map_err(|e| RegistryError::Mlflow {
                operation: endpoint.to_string(),
                code: "BAD_RESPONSE".into(),
                message: format!("unexpected answer ({e}): {}", snippet(text)),
            });
        }
    }

    pub async fn get<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        query: &[(&str, &str)],
    ) -> Result<T, RegistryError> {
        self.call(Method::GET, endpoint, query, None).await
    }

    pub async fn post<T: DeserializeOwned>(
        &self,
        endpoint: &str,
        body: Value,
    ) -> Result<T, RegistryError> {
        self.call(Method::POST, endpoint, &[], Some(body)).await
    }

    /// Uploads a file to the artifact proxy at `artifact_path` (`<experiment>/<run>/artifacts/...`).
    pub async fn upload_artifact(
        &self,
        artifact_path: &str,
        file: &Path,
    ) -> Result<(), RegistryError> {
        let opened = tokio::fs::File::open(file)
            .await
            .map_err(crate::files::io_error(file))?;
        let len = opened
            .metadata()
            .await
            .map_err(crate::files::io_error(file))?
            .len();
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::with_capacity(
            opened,
            1 << 20,
        ));
        self.put_artifact(artifact_path, body, len).await
    }

    /// Uploads bytes held in memory to the artifact proxy at `artifact_path`.
    pub async fn upload_artifact_bytes(
        &self,
        artifact_path: &str,
        bytes: Vec<u8>,
    ) -> Result<(), RegistryError> {
        let len = bytes.len() as u64;
        self.put_artifact(artifact_path, reqwest::Body::from(bytes), len)
            .await
    }

    async fn put_artifact(
        &self,
        artifact_path: &str,
        body: reqwest::Body,
        len: u64,
    ) -> Result<(), RegistryError> {
        let operation = format!("upload of {artifact_path}");
        let url = self.url(&format!(
            "api/2.0/mlflow-artifacts/artifacts/{}",
            encode_path(artifact_path)
        ))?;
        let allowed = self.timeout + Duration::from_secs(len / UPLOAD_BYTES_PER_SECOND);
        let response = self
            .request(Method::PUT, url)
            .timeout(allowed)
            .header(reqwest::header::CONTENT_LENGTH, len)
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body)
            .send()
            .await
            .map_err(|e| match e.is_timeout() {
                true => self.timed_out(&operation, allowed),
                false => self.unreachable(&operation, e),
            })?;
        let status = response.status();
        if !status.is_success() {
            let text = read_capped(response, MAX_ERROR_BODY_BYTES)
                .await
                .unwrap_or_default();
            return Err(api_error(&operation, status, &text));
        }
        Ok(())
    }

    /// Downloads an artifact into `target` (a new file), returning the SHA-256 (hex) of what was
    /// written.
    pub async fn download_artifact(
        &self,
        artifact_path: &str,
        target: &Path,
    ) -> Result<String, RegistryError> {
        let operation = format!("download of {artifact_path}");
        let url = self.url(&format!(
            "api/2.0/mlflow-artifacts/artifacts/{}",
            encode_path(artifact_path)
        ))?;
        // Until the answer starts: the call timeout; then between two reads (the client's).
        let mut response =
            tokio::time::timeout(self.timeout, self.request(Method::GET, url).send())
                .await
                .map_err(|_| self.timed_out(&operation, self.timeout))?
                .map_err(|e| self.unreachable(&operation, e))?;
        let status = response.status();
        if !status.is_success() {
            let text = read_capped(response, MAX_ERROR_BODY_BYTES)
                .await
                .unwrap_or_default();
            return Err(api_error(&operation, status, &text));
        }
        let mut file = tokio::fs::File::create(target)
            .await
            .map_err(crate::files::io_error(target))?;
        let mut hasher = Sha256::new();
        while let Some(chunk) = response
            .chunk()
            .await
            .map_err(|e| self.unreachable(&operation, e))?
        {
            hasher.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(crate::files::io_error(target))?;
        }
        file.sync_all()
            .await
            .map_err(crate::files::io_error(target))?;
        Ok(hex::encode(hasher.finalize()))
    }
}

enum BodyError {
    Read(reqwest::Error),
    TooLarge(usize),
}

/// The body as text, refused as soon as it grows past `limit` bytes (by `Content-Length`, or
/// while streaming when there is none), so a broken or hostile server cannot exhaust memory.
async fn read_capped(mut response: reqwest::Response, limit: usize) -> Result<String, BodyError> {
    if response.content_length().is_some_and(|n| n > limit as u64) {
        return Err(BodyError::TooLarge(limit));
    }
    let mut body = Vec::new();
    while let Some(chunk) = response.chunk().await.map_err(BodyError::Read)? {
        if body.len() + chunk.len() > limit {
            return Err(BodyError::TooLarge(limit));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(String::from_utf8(body)
        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()))
}

/// `{"key": k, "value": v}` pairs, the shape MLflow wants for params and tags.
pub fn key_values<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> Vec<Value> {
    pairs
        .into_iter()
        .map(|(k, v)| json!({"key": k, "value": v}))
        .collect()
}

fn api_error(operation: &str, status: StatusCode, text: &str) -> RegistryError {
    let (code, message) = match serde_json::from_str::<ErrorBody>(text) {
        Ok(body) if !body.error_code.is_empty() || !body.message.is_empty() => {
            (body.error_code, body.message)
        }
        _ => (status.as_str().to_string(), snippet(text)),
    };
    let code = match status {
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN if code.is_empty() => {
            "UNAUTHENTICATED".into()
        }
        _ => code,
    };
    RegistryError::Mlflow {
        operation: operation.to_string(),
        code,
        message: if message.is_empty() {
            format!("HTTP {status}")
        } else {
            message
        },
    }
}

/// The start of a response body, on one line, for an error message.
fn snippet(text: &str) -> String {
    let one_line: String = text.split_whitespace().collect::<Vec<_>>().join(" ");
    if one_line.chars().count() > 300 {
        format!("{}...", one_line.chars().take(300).collect::<String>())
    } else if one_line.is_empty() {
        "(empty answer)".into()
    } else {
        one_line
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let part = s.to_string();
        if !text.contains(&part) {
            text.push_str(": ");
            text.push_str(&part);
        }
        source = s.source();
    }
    text
}

/// Percent-encodes each segment of an artifact path, keeping the slashes.
fn encode_path(path: &str) -> String {
    path.split('/')
        .map(|segment| url::form_urlencoded::byte_serialize(segment.as_bytes()).collect())
        .map(|s: String| s.replace('+', "%20"))
        .collect::<Vec<_>>()
        .join("/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_in_the_uri_become_basic_auth_and_never_show() {
        let uri = Url::parse("http://alice:s3cret@mlflow.example:5000/base").unwrap();
        let client = Client::new(&uri, MlflowAuth::None, DEFAULT_TIMEOUT).unwrap();
        assert_eq!(client.shown_uri(), "http://mlflow.example:5000/base");
        assert!(
            matches!(client.auth, MlflowAuth::Basic { ref username, .. } if username == "alice")
        );
        assert!(!format!("{:?}", client.auth).contains("s3cret"));
        assert_eq!(
            client.url("api/2.0/mlflow/runs/get").unwrap().as_str(),
            "http://mlflow.example:5000/base/api/2.0/mlflow/runs/get"
        );
    }

    /// A server that answers every request with 200 and `bytes` bytes of JSON-ish text,
    /// streamed without a `Content-Length`.
    async fn server_sending(bytes: usize) -> Url {
        let app = axum::Router::new().fallback(move || async move {
            let chunks = (0..bytes.div_ceil(1 << 16))
                .map(|_| Ok::<_, std::io::Error>(axum::body::Bytes::from(vec![b' '; 1 << 16])));
            axum::body::Body::from_stream(futures::stream::iter(chunks))
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/", listener.local_addr().unwrap());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Url::parse(&url).unwrap()
    }

    #[tokio::test]
    async fn an_answer_over_the_cap_is_refused_without_being_read_whole_or_retried() {
        let uri = server_sending(MAX_BODY_BYTES + (1 << 16)).await;
        let client = Client::new(&uri, MlflowAuth::None, DEFAULT_TIMEOUT).unwrap();
        let err = client
            .get::<Value>("registered-models/get", &[("name", "m")])
            .await
            .unwrap_err();
        match err {
            RegistryError::Mlflow { code, message, .. } => {
                assert_eq!(code, "BAD_RESPONSE");
                assert!(message.contains("larger than"), "{message}");
            }
            other => panic!("{other:?}"),
        }
        // Under the cap, the same whitespace is read and parsed as an empty answer.
        let uri = server_sending(1 << 16).await;
        let client = Client::new(&uri, MlflowAuth::None, DEFAULT_TIMEOUT).unwrap();
        let ok: Value = client.get("registered-models/get", &[]).await.unwrap();
        assert_eq!(ok, json!({}));
    }

    #[test]
    fn a_non_http_tracking_uri_is_refused() {
        let uri = Url::parse("databricks://profile").unwrap();
        assert!(Client::new(&uri, MlflowAuth::None, DEFAULT_TIMEOUT).is_err());
    }

    #[test]
    fn mlflow_error_bodies_become_code_and_message() {
        let e = api_error(
            "runs/create",
            StatusCode::BAD_REQUEST,
            r#"{"error_code": "INVALID_PARAMETER_VALUE", "message": "bad start_time"}"#,
        );
        assert_eq!(
            e.to_string(),
            "MLflow refused runs/create: INVALID_PARAMETER_VALUE: bad start_time"
        );
        let e = api_error(
            "runs/get",
            StatusCode::BAD_GATEWAY,
            "<html>\n  bad gateway </html>",
        );
        assert_eq!(
            e.to_string(),
            "MLflow refused runs/get: 502: <html> bad gateway </html>"
        );
    }

    #[test]
    fn artifact_paths_are_encoded_per_segment() {
        assert_eq!(
            encode_path("1/abc/artifacts/model/model card.json"),
            "1/abc/artifacts/model/model%20card.json"
        );
    }

    #[test]
    fn timestamps_are_read_from_numbers_or_strings() {
        let v: ModelVersion =
            serde_json::from_str(r#"{"version": "3", "creation_timestamp": "1700000000000"}"#)
                .unwrap();
        assert_eq!(v.creation_timestamp, Some(1_700_000_000_000));
        let v: ModelVersion =
            serde_json::from_str(r#"{"version": "3", "creation_timestamp": 5}"#).unwrap();
        assert_eq!((v.number().unwrap(), v.creation_timestamp), (3, Some(5)));
    }
}
