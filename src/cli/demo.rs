//! `songrec demo`: the first-run experience on the embedded defaults. Seeds a sample catalogue
//! when the store is empty, trains when there is no champion, then serves. Everything it makes
//! stays in the data dir, so a second run starts serving at once.

use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;

use songrec_pipeline::{CancellationToken, Fetching, TrainOptions, TrainWhen};

use super::{Settings, import, serve};

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Address to listen on.
    #[arg(long, env = "SONGREC_ADDR", default_value = "127.0.0.1:8000")]
    pub addr: SocketAddr,
    /// Size of the sample catalogue generated when the store is empty.
    #[arg(long, default_value_t = 5_000, value_parser = clap::value_parser!(u64).range(2..=2_000_000))]
    pub songs: u64,
    /// Seed of the sample catalogue.
    #[arg(long, default_value_t = 42)]
    pub seed: u64,
}

/// How often the demo server looks for a new champion (e.g. one trained from another shell).
const DEMO_RELOAD_INTERVAL: Duration = Duration::from_secs(10);

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let store = settings.open_store().await?;
    let songs = store
        .count_songs()
        .await
        .context("cannot count stored songs")?;
    drop(store);
    if songs == 0 {
        seed_sample_catalogue(settings, &args).await?;
    } else {
        eprintln!("demo: the store already holds {songs} songs; reusing them");
    }

    let registry = settings.open_registry()?;
    match registry
        .champion()
        .await
        .context("cannot read the champion")?
    {
        Some(champion) => eprintln!(
            "demo: serving the existing champion, version {}",
            champion.version
        ),
        None => {
            eprintln!("demo: training the first model...");
            let pipeline = settings.pipeline(
                Fetching::Off("the demo does not fetch".into()),
                TrainOptions::default(),
                TrainWhen::Always,
            )?;
            let report = pipeline.train_now(&CancellationToken::new()).await;
            let Some(outcome) = report.trained else {
                let failure = report.failure().and_then(|s| s.error.clone());
                anyhow::bail!(
                    "training failed: {}",
                    failure.unwrap_or_else(|| "it did not run".into())
                );
            };
            eprintln!(
                "demo: version {} trained on {} songs in {:.1}s ({})",
                outcome.version,
                outcome.songs,
                outcome.timings.get("total").copied().unwrap_or_default(),
                outcome.reason
            );
        }
    }
    drop(registry);

    if args.addr.port() != 0 {
        eprintln!(
            "demo: open http://{}/ in a browser, or: curl 'http://{}/recommend/0?k=5'",
            args.addr, args.addr
        );
    }
    serve::serve(settings, args.addr, DEMO_RELOAD_INTERVAL).await?;
    Ok(ExitCode::SUCCESS)
}

/// Generates the sample catalogue (and its truth file, for `songrec eval`) into the data dir
/// and imports it.
async fn seed_sample_catalogue(settings: &Settings, args: &Args) -> anyhow::Result<()> {
    std::fs::create_dir_all(&settings.data_dir)
        .with_context(|| format!("cannot create data dir {}", settings.data_dir.display()))?;
    let catalogue = settings.data_dir.join("sample-catalogue.jsonl");
    let truth = settings.data_dir.join("sample-truth.tsv");
    eprintln!(
        "demo: the store is empty; generating {} sample songs into {}",
        args.songs,
        catalogue.display()
    );
    let generated = super::generate::run(super::generate::Args {
        songs: args.songs,
        seed: args.seed,
        out: Some(catalogue.clone()),
        truth: Some(truth),
    })
    .await?;
    if generated != ExitCode::SUCCESS {
        anyhow::bail!("generating the sample catalogue failed");
    }
    let imported = import::run(
        settings,
        import::Args {
            files: vec![catalogue],
        },
    )
    .await?;
    if imported != ExitCode::SUCCESS {
        anyhow::bail!("importing the sample catalogue failed");
    }
    Ok(())
}
