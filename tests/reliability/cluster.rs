//! A throwaway PostgreSQL cluster on a free port, run as the `postgres` user (PostgreSQL refuses
//! root, so the tests that use it need root, as CI has): with TLS only, its certificate signed by
//! a CA made here, or plain; and it can be stopped and started again under a running command.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{free_port, skip};

/// The `postgres` user's password (host connections need it).
pub const PASSWORD: &str = "pgpw-Qx7Secret-cluster";

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
pub fn make_certificates(dir: &Path, ca_name: &str) -> (PathBuf, PathBuf, PathBuf) {
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

/// A PostgreSQL cluster on a free port that takes connections with a password: TLS only, or
/// plain.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    pub port: u16,
    pub ca: PathBuf,
}

impl Cluster {
    pub fn start(tls: bool) -> Option<Cluster> {
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
        // Made even without TLS: `ssl = on` costs nothing there and keeps one set-up.
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
        let hba = if tls {
            "local all all trust\n\
             hostssl all all 127.0.0.1/32 scram-sha-256\n\
             hostnossl all all 127.0.0.1/32 reject\n"
        } else {
            "local all all trust\nhost all all 127.0.0.1/32 scram-sha-256\n"
        };
        std::fs::write(data.join("pg_hba.conf"), hba).unwrap();
        let cluster = Cluster { dir, bin, port, ca };
        cluster.resume();
        Some(cluster)
    }

    fn pg_ctl(&self, args: &[&str]) {
        let data = self.dir.path().join("pg/data");
        let mut all = vec![
            self.bin.join("pg_ctl").to_str().unwrap().to_string(),
            "-D".into(),
            data.to_str().unwrap().to_string(),
        ];
        all.extend(args.iter().map(|a| a.to_string()));
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        as_postgres(&all);
    }

    /// Starts (again), waiting until it accepts connections.
    pub fn resume(&self) {
        let log = self.dir.path().join("pg/log");
        self.pg_ctl(&["-l", log.to_str().unwrap(), "-w", "-t", "60", "start"]);
    }

    /// Stops at once, as a crash or a failover does: open connections are cut.
    pub fn halt(&self) {
        self.pg_ctl(&["-m", "immediate", "-w", "stop"]);
    }

    /// `postgres://postgres:PASSWORD@127.0.0.1:PORT/postgres`
    pub fn url(&self) -> String {
        format!(
            "postgres://postgres:{PASSWORD}@127.0.0.1:{}/postgres",
            self.port
        )
    }

    pub fn db_env(&self, sslmode: &str, ca: &Path) -> Vec<(&'static str, String)> {
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

impl Drop for Cluster {
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
