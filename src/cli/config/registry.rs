//! Registry settings: the local registry under the data dir, or MLflow when
//! `MLFLOW_TRACKING_URI` is set (with `MLFLOW_TRACKING_TOKEN`, or `MLFLOW_TRACKING_USERNAME` and
//! `MLFLOW_TRACKING_PASSWORD`, as MLflow's own clients read them).

use std::path::Path;

use anyhow::Context;
use clap::Args;
use secrecy::SecretString;
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
    #[arg(long, global = true, env = "MLFLOW_TRACKING_URI")]
    pub mlflow_tracking_uri: Option<String>,
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
            .as_deref()
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
            (None, None, None) => MlflowAuth::None,
        };
        Ok(RegistrySettings::Mlflow(MlflowConfig {
            tracking_uri,
            auth,
            experiment: args.experiment.clone(),
            model_name: args.model_name.clone(),
            cache_dir: data_dir.join("mlflow-cache"),
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
            mlflow_tracking_uri: uri.map(str::to_string),
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
    fn half_given_credentials_and_bad_uris_are_refused_without_quoting_secrets() {
        let e = settings(Some("http://m"), &[("MLFLOW_TRACKING_USERNAME", "ann")]).unwrap_err();
        assert!(e.to_string().contains("MLFLOW_TRACKING_PASSWORD"), "{e}");
        let e = settings(Some("databricks"), &[]).unwrap_err();
        assert!(e.to_string().contains("not a valid URL"), "{e}");
        let e = settings(Some("file:///tmp/mlruns"), &[]).unwrap_err();
        assert!(e.to_string().contains("http(s)"), "{e}");
    }
}
