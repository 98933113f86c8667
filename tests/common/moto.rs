//! moto's S3-compatible server on 127.0.0.1, for the remote cache and the
//! shared model registry. `.ci/run` installs it in `.ci/.venv` and exports
//! MLCI_TEST_MOTO; a missing server fails the tests rather than skipping them.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A moto server; killed when dropped.
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn moto_binary() -> PathBuf {
    let path = std::env::var_os("MLCI_TEST_MOTO").map_or_else(
        || Path::new(env!("CARGO_MANIFEST_DIR")).join(".ci/.venv/bin/moto_server"),
        PathBuf::from,
    );
    assert!(
        path.is_file(),
        "moto_server is not at {} (run .ci/run, or: python3 -m venv .ci/.venv && .ci/.venv/bin/pip install 'moto[server]')",
        path.display()
    );
    path
}

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Starts moto on a free port of 127.0.0.1 and creates the bucket `cache`.
pub fn start_moto() -> Moto {
    let port = free_port();
    let child = Command::new(moto_binary())
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("moto_server starts");
    let moto = Moto { child, port };
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Ok(mut stream) = TcpStream::connect(("127.0.0.1", port)) {
            let request = format!(
                "PUT /cache HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
            );
            stream.write_all(request.as_bytes()).unwrap();
            let mut response = String::new();
            let _ = stream.read_to_string(&mut response);
            assert!(
                response.starts_with("HTTP/1.1 200"),
                "creating the bucket: {response}"
            );
            return moto;
        }
        assert!(
            Instant::now() < deadline,
            "moto_server did not start on port {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The environment that points `mlci` at this server's bucket `cache`.
impl Moto {
    pub fn env(&self) -> Vec<(&'static str, String)> {
        vec![
            (
                "MLCI_S3_ENDPOINT",
                format!("http://127.0.0.1:{}", self.port),
            ),
            ("AWS_ACCESS_KEY_ID", "testing".into()),
            ("AWS_SECRET_ACCESS_KEY", "testing".into()),
            ("AWS_REGION", "us-east-1".into()),
        ]
    }
}
