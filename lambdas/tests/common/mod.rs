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

/// A child process killed on drop; it can be killed and started again on the same port with the same
/// command line.
pub struct Server {
    child: Option<Child>,
    program: PathBuf,
    args: Vec<String>,
    what: &'static str,
    pub port: u16,
}

impl Drop for Server {
    fn drop(&mut self) {
        self.kill();
    }
}

impl Server {
    fn start(program: PathBuf, args: Vec<String>, port: u16, what: &'static str) -> Self {
        let mut server = Self {
            child: None,
            program,
            args,
            what,
            port,
        };
        server.start_again();
        server
    }

    /// Kills the process (as a crash would: SIGKILL) and waits for it to end.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Freezes the process (SIGSTOP) or thaws it (SIGCONT): a frozen server keeps its connections open
    /// and its port bound but answers nothing, as a hung node would.
    pub fn freeze(&self, frozen: bool) {
        let child = self.child.as_ref().expect("the process is not running");
        let signal = if frozen { "-STOP" } else { "-CONT" };
        let status = Command::new("kill")
            .args([signal, &child.id().to_string()])
            .status()
            .expect("running kill");
        assert!(status.success(), "kill {signal} {}", self.what);
    }

    /// Starts the process again with the same command line, once it is killed; returns once it listens.
    pub fn start_again(&mut self) {
        assert!(self.child.is_none(), "{} is still running", self.what);
        let mut child = Command::new(&self.program)
            .args(&self.args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("starting {}: {e}", self.what));
        wait_for_port(self.port, self.what, &mut child);
        self.child = Some(child);
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
    let args = args
        .iter()
        .copied()
        .chain(["--bind", "127.0.0.1", "--save", "", "--appendonly", "no"])
        .map(str::to_owned)
        .collect();
    Server::start(tool("redis-server"), args, port, "redis-server")
}

/// A Redis Cluster of three masters (no replicas, no persistence) on loopback, each node's cluster state
/// in a `nodes-<port>.conf` of its own folder, so a killed node started again rejoins with its slots
/// (empty: nothing was persisted). Nodes and folder go on drop.
pub struct RedisCluster {
    pub nodes: Vec<Server>,
    dir: PathBuf,
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for node in &mut self.nodes {
            node.kill();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Starts three cluster-enabled `redis-server`s, joins them with `redis-cli --cluster create` and waits
/// until every node says `cluster_state:ok`.
pub fn redis_cluster() -> RedisCluster {
    let dir = std::env::temp_dir().join(format!(
        "chatty-redis-cluster-{}-{}",
        std::process::id(),
        free_port()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    let nodes: Vec<Server> = (0..3)
        .map(|_| {
            let port = free_port();
            let config = dir.join(format!("nodes-{port}.conf"));
            // The cluster bus listens on a port of its own (by default port + 10 000, maybe past 65 535).
            let bus_port = free_port();
            let args = [
                "--port",
                &port.to_string(),
                "--cluster-port",
                &bus_port.to_string(),
                "--bind",
                "127.0.0.1",
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                &config.to_string_lossy(),
                "--cluster-node-timeout",
                "2000",
                "--dir",
                &dir.to_string_lossy(),
                "--save",
                "",
                "--appendonly",
                "no",
            ]
            .map(str::to_owned)
            .to_vec();
            Server::start(
                tool("redis-server"),
                args,
                port,
                "redis-server (cluster node)",
            )
        })
        .collect();
    let addresses: Vec<String> = nodes
        .iter()
        .map(|node| format!("127.0.0.1:{}", node.port))
        .collect();
    let output = Command::new(tool("redis-cli"))
        .args(["--cluster", "create"])
        .args(&addresses)
        .args(["--cluster-replicas", "0", "--cluster-yes"])
        .output()
        .expect("running redis-cli --cluster create");
    assert!(
        output.status.success(),
        "redis-cli --cluster create: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let cluster = RedisCluster { nodes, dir };
    cluster.wait_until_ok();
    cluster
}

impl RedisCluster {
    /// A seed node's URL, as `--redis-url` takes it with `--redis-cluster`.
    pub fn seed_url(&self) -> String {
        self.nodes[0].redis_url()
    }

    /// Waits (up to 30 s) until every node says `cluster_state:ok`.
    pub fn wait_until_ok(&self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        for node in &self.nodes {
            loop {
                let info = redis_cli(node.port, &["cluster", "info"]);
                if info.contains("cluster_state:ok") {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "cluster node {} is not ok: {info}",
                    node.port
                );
                std::thread::sleep(Duration::from_millis(100));
            }
        }
    }
}

/// `redis-cli -p <port> <args>`'s standard output.
pub fn redis_cli(port: u16, args: &[&str]) -> String {
    let output = Command::new(tool("redis-cli"))
        .args(["-h", "127.0.0.1", "-p", &port.to_string()])
        .args(args)
        .output()
        .expect("running redis-cli");
    String::from_utf8_lossy(&output.stdout).into_owned()
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
    let args = ["-H", "127.0.0.1", "-p", &port.to_string()]
        .map(str::to_owned)
        .to_vec();
    Server::start(tool("moto_server"), args, port, "moto_server")
}
