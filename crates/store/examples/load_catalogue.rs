//! Times `Store::load_catalogue` (what training reads) against a database URL.
//!
//! `cargo run --release -p songrec-store --example load_catalogue -- URL [RUNS]`

use std::time::Instant;

use songrec_store::{Store, StoreConfig};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args.next().ok_or("usage: load_catalogue URL [RUNS]")?;
    let runs: usize = args.next().map(|r| r.parse()).transpose()?.unwrap_or(3);
    let store = Store::connect(&StoreConfig::from_url(url)).await?;
    for _ in 0..runs {
        let started = Instant::now();
        let songs = store.load_catalogue().await?;
        println!(
            "{} songs in {:.3} s",
            songs.len(),
            started.elapsed().as_secs_f64()
        );
    }
    store.close().await;
    Ok(())
}
