//! Registry settings: the local registry under the data dir, or MLflow when
//! `MLFLOW_TRACKING_URI` is set (with `MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` and
//! `MLFLOW_TRACKING_PASSWORD`, as MLflow's own clients read them).

use std::path::Path;

use anyhow::Context;
use clap::Args;
use percent_encoding::percent_decode_str;
use secrecy::{ExposeSecret, SecretString};
use songrec_registry::{MlflowAuth, MlflowConfig, Registry};

#[derive(Debug, Args)]
pub struct RegistryArgs {
    /// Registered model name in MLflow.
    #[arg(
        long,
        global = true,
        env = "SONGREC_MODEL_NAME",
        default_value = "songrec-knn"
    )]
    pub model_name: String,
    /// MLflow experiment that holds the training runs.
    #[arg(
        long,
        global = true,
        env = "SONGREC_EXPERIMENT",
        default_value = "songrec"
    )]
    pub experiment: String,
    /// MLflow tracking server (e.g. `http://127.0.0.1:5000`); models go there instead of the
    /// data dir.
    // Secret: the URI may carry a user and password.
    #[arg(long, global = true, env = "MLFLOW_TRACKING_URI", value_parser = secret)]
    pub mlflow_tracking_uri: Option<SecretString>,
}

fn secret(value: &str) -> Result<SecretString, std::convert::Infallible> {
    Ok(SecretString::from(value))
}

/// `MLFLOW_HTTP_REQUEST_TIMEOUT`: seconds, as MLflow's own clients read it; unset, the default.
fn request_timeout(value: Option<String>) -> anyhow::Result<std::time::Duration> {
    let Some(value) = value else {
        return Ok(songrec_registry::DEFAULT_MLFLOW_TIMEOUT);
    };
    match value.trim().parse::<f64>() {
        Ok(seconds) if seconds > 0.0 && seconds <= 86_400.0 => {
            Ok(std::time::Duration::from_secs_f64(seconds))
        }
        _ => anyhow::bail!(
            "MLFLOW_HTTP_REQUEST_TIMEOUT must be a number of seconds (more than 0, at most \
             86400), not {value:?}"
        ),
    }
}

/// Where model versions are registered.
#[derive(Debug)]
pub enum RegistrySettings {
    /// A local registry in this directory.
    Local(std::path::PathBuf),
    Mlflow(MlflowConfig),
}

impl RegistrySettings {
    /// Validates the arguments; `env` reads the MLflow credential variables.
    pub fn from_args(
        args: &RegistryArgs,
        data_dir: &Path,
        env: impl Fn(&str) -> Option<String>,
    ) -> anyhow::Result<RegistrySettings> {
        let var = |name: &str| env(name).filter(|v| !v.is_empty());
        let Some(uri) = args
            .mlflow_tracking_uri
            .as_ref()
            .map(ExposeSecret::expose_secret)
            .filter(|u| !u.is_empty())
        else {
            return Ok(RegistrySettings::Local(data_dir.join("registry")));
        };
        // The URI may carry credentials: say what is wrong without quoting it.
        let tracking_uri = url::Url::parse(uri)
            .map_err(|e| anyhow::anyhow!("MLFLOW_TRACKING_URI is not a valid URL: {e}"))?;
        if !matches!(tracking_uri.scheme(), "http" | "https") {
            anyhow::bail!(
                "MLFLOW_TRACKING_URI must be an http(s):// tracking server, not {}:",
                tracking_uri.scheme()
            );
        }
        let auth = match (
            var("MLFLOW_TRACKING_TOKEN"),
            var("MLFLOW_TRACKING_USERNAME"),
            var("MLFLOW_TRACKING_PASSWORD"),
        ) {
            (Some(token), _, _) => MlflowAuth::Token(SecretString::from(token)),
            (None, Some(username), Some(password)) => MlflowAuth::Basic {
                username,
                password: SecretString::from(password),
            },
            (None, Some(_), None) => {
                anyhow::bail!("MLFLOW_TRACKING_USERNAME is set but MLFLOW_TRACKING_PASSWORD is not")
            }
            (None, None, Some(_)) => {
                anyhow::bail!("MLFLOW_TRACKING_PASSWORD is set but MLFLOW_TRACKING_USERNAME is not")
            }
            // Credentials in the URI, as MLflow's clients accept them.
            (None, None, None) if !tracking_uri.username().is_empty() => {
                let decode = |s: &str| percent_decode_str(s).decode_utf8_lossy().into_owned();
                MlflowAuth::Basic {
                    username: decode(tracking_uri.username()),
                    password: SecretString::from(decode(
                        tracking_uri.password().unwrap_or_default(),
                    )),
                }
            }
            (None, None, None) => MlflowAuth::None,
        };
        // From here on the URI is only an address, safe to show and to log.
        let mut tracking_uri = tracking_uri;
        let _ = tracking_uri.set_username("");
        let _ = tracking_uri.set_password(None);
        Ok(RegistrySettings::Mlflow(MlflowConfig {
            tracking_uri,
            auth,
            experiment: args.experiment.clone(),
            model_name: args.model_name.clone(),
            cache_dir: data_dir.join("mlflow-cache"),
            timeout: request_timeout(var("MLFLOW_HTTP_REQUEST_TIMEOUT"))?,
        }))
    }

    pub fn open(&self) -> anyhow::Result<Registry> {
        match self {
            RegistrySettings::Local(dir) => Registry::local(dir)
                .with_context(|| format!("cannot open the model registry at {}", dir.display())),
            RegistrySettings::Mlflow(config) => {
                Registry::mlflow(config.clone()).context("cannot use the MLflow registry")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(uri: Option<&str>) -> RegistryArgs {
        RegistryArgs {
            model_name: "songrec-knn".into(),
            experiment: "songrec".into(),
            mlflow_tracking_uri: uri.map(SecretString::from),
        }
    }

    fn settings(uri: Option<&str>, vars: &[(&str, &str)]) -> anyhow::Result<RegistrySettings> {
        let lookup = |name: &str| {
            vars.iter()
                .find(|(k, _)| *k == name)
                .map(|(_, v)| v.to_string())
        };
        RegistrySettings::from_args(&args(uri), Path::new("/data"), lookup)
    }

    #[test]
    fn without_a_tracking_uri_the_registry_is_local_under_the_data_dir() {
        match settings(None, &[]).unwrap() {
            RegistrySettings::Local(dir) => assert_eq!(dir, Path::new("/data/registry")),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            settings(Some(""), &[]).unwrap(),
            RegistrySettings::Local(_)
        ));
    }

    #[test]
    fn a_tracking_uri_selects_mlflow_with_token_or_basic_credentials() {
        let RegistrySettings::Mlflow(config) = settings(
            Some("http://mlflow:5000"),
            &[("MLFLOW_TRACKING_TOKEN", "t0k")],
        )
        .unwrap() else {
            panic!("expected MLflow");
        };
        assert_eq!(config.tracking_uri.as_str(), "http://mlflow:5000/");
        assert_eq!(config.model_name, "songrec-knn");
        assert_eq!(config.cache_dir, Path::new("/data/mlflow-cache"));
        assert!(matches!(config.auth, MlflowAuth::Token(_)));
        assert!(!format!("{config:?}").contains("t0k"));

        let RegistrySettings::Mlflow(config) = settings(
            Some("https://mlflow"),
            &[
                ("MLFLOW_TRACKING_USERNAME", "ann"),
                ("MLFLOW_TRACKING_PASSWORD", "pw"),
            ],
        )
        .unwrap() else {
            panic!("expected MLflow");
        };
        assert!(matches!(config.auth, MlflowAuth::Basic { ref username, .. } if username == "ann"));
    }

    #[test]
    fn the_mlflow_timeout_is_read_in_seconds_and_refused_when_not_a_duration() {
        let timeout = |vars: &[(&str, &str)]| match settings(Some("http://mlflow:5000"), vars) {
            Ok(RegistrySettings::Mlflow(config)) => Ok(config.timeout),
            Ok(other) => panic!("{other:?}"),
            Err(e) => Err(e.to_string()),
        };
        assert_eq!(timeout(&[]), Ok(songrec_registry::DEFAULT_MLFLOW_TIMEOUT));
        let set = |v| timeout(&[("MLFLOW_HTTP_REQUEST_TIMEOUT", v)]);
        assert_eq!(set("2.5"), Ok(std::time::Duration::from_millis(2500)));
        for bad in ["0", "-1", "ten", "1e9", "NaN"] {
            assert!(
                set(bad)
                    .unwrap_err()
                    .contains("MLFLOW_HTTP_REQUEST_TIMEOUT"),
                "{bad}"
            );
        }
    }

    #[test]
    fn credentials_in_the_tracking_uri_become_basic_auth_and_leave_the_uri() {
        let RegistrySettings::Mlflow(config) =
            settings(Some("https://ann:s3cr%40t-pw@mlflow.example.com/"), &[]).unwrap()
        else {
            panic!("expected MLflow");
        };
        assert_eq!(config.tracking_uri.as_str(), "https://mlflow.example.com/");
        match &config.auth {
            MlflowAuth::Basic { username, password } => {
                assert_eq!(username, "ann");
                assert_eq!(password.expose_secret(), "s3cr@t-pw");
            }
            other => panic!("{other:?}"),
        }
        let shown = format!("{config:?}");
        assert!(!shown.contains("s3cr"), "{shown}");
    }

    #[test]
    fn half_given_credentials_and_bad_uris_are_refused_without_quoting_secrets() {
        let e = settings(Some("http://m"), &[("MLFLOW_TRACKING_USERNAME", "ann")]).unwrap_err();
        assert!(e.to_string().contains("MLFLOW_TRACKING_PASSWORD"), "{e}");
        let e = settings(Some("databricks"), &[]).unwrap_err();
        assert!(e.to_string().contains("not a valid URL"), "{e}");
        let e = settings(Some("file:///tmp/mlruns"), &[]).unwrap_err();
        assert!(e.to_string().contains("http(s)"), "{e}");
    }
}
