//! TLS to PostgreSQL as managed services require it, against a throwaway cluster that only
//! accepts TLS connections with a password, its certificate signed by a CA the test makes.
//! PostgreSQL refuses to run as root, so the cluster runs as the `postgres` user (the test must
//! run as root for that, as CI does).

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{assert_no_secret, free_port, generate, run, skip, text};

const PASSWORD: &str = "pgpw-Qx7Secret-tls";

fn sh(program: &str, args: &[&str]) {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{program} {args:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn as_postgres(args: &[&str]) {
    let mut all = vec!["-u", "postgres", "--"];
    all.extend_from_slice(args);
    sh("runuser", &all);
}

/// A certificate authority and, signed by it, a certificate for 127.0.0.1 and localhost.
fn make_certificates(dir: &Path, ca_name: &str) -> (PathBuf, PathBuf, PathBuf) {
    let p = |name: &str| dir.join(name).to_str().unwrap().to_string();
    sh(
        "openssl",
        &[
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "2",
            "-subj",
            &format!("/CN={ca_name}"),
            "-addext",
            "basicConstraints=critical,CA:TRUE",
            "-addext",
            "keyUsage=critical,keyCertSign,cRLSign",
            "-keyout",
            &p(&format!("{ca_name}.key")),
            "-out",
            &p(&format!("{ca_name}.crt")),
        ],
    );
    std::fs::write(
        dir.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n\
         keyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
    )
    .unwrap();
    sh(
        "openssl",
        &[
            "req",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-subj",
            "/CN=localhost",
            "-keyout",
            &p("server.key"),
            "-out",
            &p("server.csr"),
        ],
    );
    sh(
        "openssl",
        &[
            "x509",
            "-req",
            "-in",
            &p("server.csr"),
            "-days",
            "2",
            "-CA",
            &p(&format!("{ca_name}.crt")),
            "-CAkey",
            &p(&format!("{ca_name}.key")),
            "-CAcreateserial",
            "-extfile",
            &p("server.ext"),
            "-out",
            &p("server.crt"),
        ],
    );
    (
        dir.join(format!("{ca_name}.crt")),
        dir.join("server.crt"),
        dir.join("server.key"),
    )
}

/// A PostgreSQL cluster on a free port that takes only TLS connections with a password.
struct TlsCluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    ca: PathBuf,
}

impl TlsCluster {
    fn start() -> Option<TlsCluster> {
        let uid = Command::new("id").arg("-u").output().ok()?;
        if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
            return skip("the TLS cluster runs as the postgres user, which needs root");
        }
        let bin = std::fs::read_dir("/usr/lib/postgresql")
            .ok()
            .into_iter()
            .flatten()
            .filter_map(Result::ok)
            .map(|e| e.path().join("bin"))
            .find(|b| b.join("initdb").exists());
        let Some(bin) = bin else {
            return skip("no /usr/lib/postgresql/*/bin/initdb");
        };
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let (ca, cert, key) = make_certificates(root, "songrec-test-ca");
        let pg = root.join("pg");
        std::fs::create_dir(&pg).unwrap();
        std::fs::copy(&cert, pg.join("server.crt")).unwrap();
        std::fs::copy(&key, pg.join("server.key")).unwrap();
        std::fs::write(pg.join("pw"), PASSWORD).unwrap();
        let s = |p: &Path| p.to_str().unwrap().to_string();
        sh("chmod", &["755", &s(root)]);
        sh("chown", &["-R", "postgres:postgres", &s(&pg)]);
        sh("chmod", &["600", &s(&pg.join("server.key"))]);
        let data = pg.join("data");
        as_postgres(&[
            &s(&bin.join("initdb")),
            "-D",
            &s(&data),
            "-U",
            "postgres",
            "--no-sync",
            &format!("--pwfile={}", s(&pg.join("pw"))),
            "--auth-local=trust",
            "--auth-host=scram-sha-256",
        ]);
        let port = free_port();
        let conf = format!(
            "\nport = {port}\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = '{}'\n\
             ssl = on\nssl_cert_file = '{}'\nssl_key_file = '{}'\nfsync = off\n",
            s(&pg),
            s(&pg.join("server.crt")),
            s(&pg.join("server.key")),
        );
        let mut postgresql_conf = std::fs::read_to_string(data.join("postgresql.conf")).unwrap();
        postgresql_conf.push_str(&conf);
        std::fs::write(data.join("postgresql.conf"), postgresql_conf).unwrap();
        std::fs::write(
            data.join("pg_hba.conf"),
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject\n",
        )
        .unwrap();
        as_postgres(&[
            &s(&bin.join("pg_ctl")),
            "-D",
            &s(&data),
            "-l",
            &s(&pg.join("log")),
            "-w",
            "-t",
            "60",
            "start",
        ]);
        Some(TlsCluster { dir, bin, port, ca })
    }

    fn db_env(&self, sslmode: &str, ca: &Path) -> Vec<(&'static str, String)> {
        vec![
            ("DB_HOST", "127.0.0.1".into()),
            ("DB_PORT", self.port.to_string()),
            ("DB_USER", "postgres".into()),
            ("DB_PASS", PASSWORD.into()),
            ("DB_NAME", "postgres".into()),
            ("DB_SSLMODE", sslmode.into()),
            ("DB_SSLROOTCERT", ca.to_str().unwrap().into()),
        ]
    }
}

impl Drop for TlsCluster {
    fn drop(&mut self) {
        let data = self.dir.path().join("pg/data");
        let _ = Command::new("runuser")
            .args(["-u", "postgres", "--"])
            .arg(self.bin.join("pg_ctl"))
            .arg("-D")
            .arg(&data)
            .args(["-m", "immediate", "-w", "stop"])
            .output();
    }
}

fn songrec(dir: &Path, vars: &[(&'static str, String)], args: &[&str]) -> (bool, String) {
    let env: Vec<(&str, &str)> = vars.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let out = run(dir, &env, args);
    let shown = text(&out);
    assert_no_secret(&format!("songrec {args:?}"), &shown, &[PASSWORD]);
    (out.status.success(), shown)
}

#[test]
fn postgresql_over_verified_tls_from_the_db_settings_or_libpq_variables_and_refused_otherwise() {
    let Some(cluster) = TlsCluster::start() else {
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
