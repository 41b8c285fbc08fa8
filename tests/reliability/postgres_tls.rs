//! TLS to PostgreSQL as managed services require it, against a throwaway cluster that only
//! accepts TLS connections with a password, its certificate signed by a CA the test makes.

use std::path::Path;

use crate::cluster::{Cluster, PASSWORD, make_certificates};
use crate::support::{assert_no_secret, generate, run, text};

fn songrec(dir: &Path, vars: &[(&'static str, String)], args: &[&str]) -> (bool, String) {
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(dir, &env, args);
    let shown = text(&out);
    assert_no_secret(&format!("songrec {args:?}"), &shown, &[PASSWORD]);
    (out.status.success(), shown)
}

#[test]
fn postgresql_over_verified_tls_from_the_db_settings_or_libpq_variables_and_refused_otherwise() {
    let Some(cluster) = Cluster::start(true) else {
        return;
    };
    let work = tempfile::tempdir().unwrap();
    let dir = work.path();
    let catalogue = generate(dir, 200);

    // DB_SSLMODE=verify-full with the CA: the whole import goes over TLS (the server takes
    // nothing else), and the server's name is checked against its certificate.
    let verified = cluster.db_env("verify-full", &cluster.ca);
    let (ok, out) = songrec(dir, &verified, &["import", catalogue.to_str().unwrap()]);
    assert!(ok, "{out}");
    assert!(out.contains("inserted 200"), "{out}");

    // libpq's variables with a DATABASE_URL that says nothing about TLS.
    let url = format!(
        "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
        cluster.port
    );
    let libpq = vec![
        ("DATABASE_URL", url.clone()),
        ("PGSSLMODE", "verify-full".to_string()),
        ("PGSSLROOTCERT", cluster.ca.to_str().unwrap().to_string()),
    ];
    let (ok, out) = songrec(dir, &libpq, &["db", "status"]);
    assert!(ok, "{out}");
    assert!(out.contains("200"), "the song count: {out}");

    // Without TLS the server refuses; with a CA that did not sign its certificate, songrec does.
    let (ok, out) = songrec(
        dir,
        &cluster.db_env("disable", &cluster.ca),
        &["db", "status"],
    );
    assert!(!ok);
    assert!(
        out.contains("no encryption") || out.contains("pg_hba"),
        "{out}"
    );
    let other = tempfile::tempdir().unwrap();
    let (wrong_ca, _, _) = make_certificates(other.path(), "someone-else");
    let (ok, out) = songrec(
        dir,
        &cluster.db_env("verify-full", &wrong_ca),
        &["db", "status"],
    );
    assert!(!ok);
    assert!(out.to_lowercase().contains("certificate"), "{out}");
    assert_eq!(out.trim().lines().count(), 1, "one line: {out}");

    // `require` encrypts without checking whose certificate it is (libpq's meaning).
    let (ok, out) = songrec(
        dir,
        &cluster.db_env("require", &wrong_ca),
        &["db", "status"],
    );
    assert!(ok, "{out}");
}
