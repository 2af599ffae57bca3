//! What the adapter tests share: real servers on free loopback ports, started for a test and stopped when
//! it drops them. `redis-server` comes from the system (Debian package), `moto_server` from the project's
//! `.venv` (installed by `scripts/setup test`); a missing tool fails the test with the command that
//! installs it.
#![allow(dead_code)] // each test file uses its own subset

use std::{
    net::{TcpListener, TcpStream},
    path::PathBuf,
    process::{Child, Command, Stdio},
    time::{Duration, Instant},
};

/// A free TCP port on 127.0.0.1 (bound and released; the server binds it next).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Finds a tool in the project's `.venv/bin`, then on `PATH`; panics with how to install it.
pub fn tool(name: &str) -> PathBuf {
    let venv = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../.venv/bin")
        .join(name);
    if venv.is_file() {
        return venv;
    }
    std::env::var_os("PATH")
        .and_then(|paths| {
            std::env::split_paths(&paths)
                .map(|dir| dir.join(name))
                .find(|path| path.is_file())
        })
        .unwrap_or_else(|| panic!("`{name}` is not installed: run `scripts/setup test` first"))
}

/// A child process killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn wait_for_port(port: u16, what: &str, child: &mut Child) {
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            panic!("{what} exited at start: {status}");
        }
        assert!(Instant::now() < deadline, "{what} did not listen on {port}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// `redis-server` on a free port, without persistence.
pub fn redis_server() -> Server {
    let port = free_port();
    redis_server_with(port, &["--port", &port.to_string()])
}

/// `redis-server` without persistence, listening on `port` as `args` say (e.g. `--tls-port`).
pub fn redis_server_with(port: u16, args: &[&str]) -> Server {
    let mut child = Command::new(tool("redis-server"))
        .args(args)
        .args(["--bind", "127.0.0.1"])
        .args(["--save", "", "--appendonly", "no"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting redis-server");
    wait_for_port(port, "redis-server", &mut child);
    Server { child, port }
}

impl Server {
    pub fn redis_url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }

    pub fn http_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

/// `moto_server` (SQS, API Gateway management, Cognito) on a free port. Dummy credentials and a region are
/// set for the whole test process, as the SDK requires some.
pub fn moto_server() -> Server {
    std::env::set_var("AWS_ACCESS_KEY_ID", "testing");
    std::env::set_var("AWS_SECRET_ACCESS_KEY", "testing");
    std::env::set_var("AWS_REGION", "us-east-1");
    let port = free_port();
    let mut child = Command::new(tool("moto_server"))
        .args(["-H", "127.0.0.1", "-p", &port.to_string()])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("starting moto_server");
    wait_for_port(port, "moto_server", &mut child);
    Server { child, port }
}
