//! `songrec export`: the stored catalogue as JSON Lines of the raw song objects, which
//! `songrec import` reads back to the same catalogue.

use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use super::Settings;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Output file (replaced only once the export is complete); `-` writes standard output.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

pub async fn run(settings: &Settings, args: Args) -> anyhow::Result<ExitCode> {
    let store = settings.open_store().await?;
    if args.file.as_os_str() == "-" {
        let mut out = BufWriter::with_capacity(1 << 20, std::io::stdout().lock());
        let songs = store.export_jsonl(&mut out).await?;
        out.flush().context("cannot write standard output")?;
        eprintln!("exported {songs} songs");
        return Ok(ExitCode::SUCCESS);
    }

    // Written beside the target and renamed at the end, so a failed export leaves no
    // truncated file where a complete one is expected.
    let mut partial = args.file.clone().into_os_string();
    partial.push(".partial");
    let partial = PathBuf::from(partial);
    let file = std::fs::File::create(&partial)
        .with_context(|| format!("cannot create {}", partial.display()))?;
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let written = async {
        let songs = store.export_jsonl(&mut out).await?;
        out.flush()?;
        out.get_ref().sync_all()?;
        anyhow::Ok(songs)
    }
    .await;
    let songs = match written {
        Ok(songs) => songs,
        Err(e) => {
            let _ = std::fs::remove_file(&partial);
            return Err(e).with_context(|| format!("cannot export to {}", args.file.display()));
        }
    };
    std::fs::rename(&partial, &args.file)
        .with_context(|| format!("cannot move the export to {}", args.file.display()))?;
    println!("exported {songs} songs to {}", args.file.display());
    Ok(ExitCode::SUCCESS)
}
