//! The throwaway servers a measurement starts beside Chatty, each on free loopback ports, without
//! persistence, and stopped when dropped: `redis-server`, a three-master Redis Cluster, and `moto_server`
//! (the AWS emulator behind `--aws-endpoint`). `scripts/setup test` installs all three; moto comes from the
//! workspace's `.venv`, or from `PATH`.
//!
//! [`RedisNodes::info`] reads what every node of either Redis has done so far (`INFO commandstats` and
//! `INFO stats`), so a measurement can take the difference.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    process::Stdio,
    time::Duration,
};

use anyhow::{bail, Context};
use serde::Serialize;
use tokio::process::{Child, Command};

/// Bound on a server accepting connections after it starts.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// A throwaway `redis-server` on a free loopback port: no persistence, stopped when dropped.
pub struct RedisServer {
    child: Child,
    pub pid: u32,
    pub port: u16,
    pub url: String,
}

impl RedisServer {
    /// Starts `redis-server` and waits until it accepts connections.
    pub async fn start() -> anyhow::Result<Self> {
        let port = free_port()?;
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .context("starting redis-server (scripts/setup test installs it)")?;
        wait_for_port(port, "redis-server").await?;
        Ok(Self {
            pid: child.id().context("redis-server has no pid")?,
            child,
            port,
            url: format!("redis://127.0.0.1:{port}"),
        })
    }

    /// Stops the server and waits until it is gone, so that its exit costs the next measurement nothing.
    pub async fn stop(mut self) {
        let _ = self.child.kill().await;
    }
}

/// A three-master Redis Cluster on loopback (`redis-server --cluster-enabled yes` three times, joined by
/// `redis-cli --cluster create`), as ElastiCache Serverless speaks it.
pub struct RedisCluster {
    masters: Vec<Child>,
    dir: PathBuf,
    /// Every master's port.
    pub ports: Vec<u16>,
    /// Every master's process.
    pub pids: Vec<u32>,
    /// A seed node.
    pub url: String,
}

impl RedisCluster {
    pub async fn start() -> anyhow::Result<Self> {
        let dir = std::env::temp_dir().join(format!(
            "chatty-bench-cluster-{}-{}",
            std::process::id(),
            cluster_port()?
        ));
        std::fs::create_dir_all(&dir)?;
        let mut masters = Vec::new();
        let mut ports = Vec::new();
        let mut pids = Vec::new();
        for _ in 0..3 {
            let port = cluster_port()?;
            let master = Command::new("redis-server")
                .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
                .args(["--cluster-enabled", "yes", "--cluster-config-file"])
                .arg(format!("nodes-{port}.conf"))
                .args(["--save", "", "--appendonly", "no"])
                .current_dir(&dir)
                .stdout(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .context("starting redis-server (scripts/setup test installs it)")?;
            pids.push(master.id().context("redis-server has no pid")?);
            masters.push(master);
            wait_for_port(port, "redis-server").await?;
            ports.push(port);
        }
        let nodes: Vec<String> = ports.iter().map(|p| format!("127.0.0.1:{p}")).collect();
        let created = Command::new("redis-cli")
            .args(["--cluster", "create"])
            .args(&nodes)
            .args(["--cluster-replicas", "0", "--cluster-yes"])
            .stdout(Stdio::null())
            .status()
            .await
            .context("running redis-cli --cluster create")?;
        if !created.success() {
            bail!("redis-cli --cluster create failed ({created})");
        }
        let seed_port = ports[0].to_string();
        let ready = async {
            loop {
                let info = Command::new("redis-cli")
                    .args(["-p", &seed_port, "cluster", "info"])
                    .output()
                    .await?;
                if String::from_utf8_lossy(&info.stdout).contains("cluster_state:ok") {
                    return anyhow::Ok(());
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        };
        tokio::time::timeout(START_TIMEOUT, ready)
            .await
            .context("the cluster did not come up in time")??;
        Ok(Self {
            masters,
            dir,
            url: format!("redis://{}", nodes[0]),
            ports,
            pids,
        })
    }
}

impl RedisCluster {
    /// Stops every master and waits until they are gone, so that their exit costs the next measurement
    /// nothing.
    pub async fn stop(mut self) {
        for master in &mut self.masters {
            let _ = master.kill().await;
        }
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// `moto_server` on a free loopback port, stopped when dropped.
pub struct MotoServer {
    _child: Child,
    /// `http://127.0.0.1:PORT`, what `--aws-endpoint` takes.
    pub url: String,
}

impl MotoServer {
    /// Starts `moto_server` (from `root/.venv/bin`, else from `PATH`) and waits until it listens. The AWS
    /// SDK still wants credentials and a region: dummy ones are set for this process unless some are.
    pub async fn start(root: &Path) -> anyhow::Result<Self> {
        for (name, value) in [
            ("AWS_ACCESS_KEY_ID", "testing"),
            ("AWS_SECRET_ACCESS_KEY", "testing"),
            ("AWS_REGION", "us-east-1"),
        ] {
            if std::env::var_os(name).is_none() {
                std::env::set_var(name, value);
            }
        }
        let venv = root.join(".venv/bin/moto_server");
        let program = if venv.is_file() {
            venv
        } else {
            PathBuf::from("moto_server")
        };
        let port = free_port()?;
        let child = Command::new(&program)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| {
                format!(
                    "starting {} (scripts/setup test installs it)",
                    program.display()
                )
            })?;
        wait_for_port(port, "moto_server").await?;
        Ok(Self {
            _child: child,
            url: format!("http://127.0.0.1:{port}"),
        })
    }
}

/// The nodes of a Redis, standalone (one) or a cluster (every master), to read their counters.
#[derive(Debug, Clone)]
pub struct RedisNodes(pub Vec<u16>);

/// What a Redis's nodes have done so far, summed over them.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct RedisInfo {
    /// Calls by command (`INFO commandstats`, e.g. `evalsha`, `hset`; commands a script runs count
    /// under their own names too).
    pub calls: BTreeMap<String, u64>,
    /// Bytes read from clients and written to them (`total_net_input_bytes`, `total_net_output_bytes`).
    pub bytes_in: u64,
    pub bytes_out: u64,
    /// The length of the replies that carried this reading: they count in a later reading's
    /// `bytes_out` but are not the chat's.
    pub own_reply_bytes: u64,
}

impl RedisNodes {
    /// Sums every node's `INFO commandstats` and `INFO stats`, read with one `INFO` each.
    pub async fn info(&self) -> anyhow::Result<RedisInfo> {
        let mut total = RedisInfo::default();
        for port in &self.0 {
            let output = Command::new("redis-cli")
                .args(["-h", "127.0.0.1", "-p", &port.to_string()])
                .args(["info", "commandstats", "stats"])
                .output()
                .await
                .context("running redis-cli info")?;
            if !output.status.success() {
                bail!("redis-cli info on port {port} failed ({})", output.status);
            }
            let text = String::from_utf8_lossy(&output.stdout);
            let node = RedisInfo::parse(&text);
            for (command, calls) in node.calls {
                *total.calls.entry(command).or_default() += calls;
            }
            total.bytes_in += node.bytes_in;
            total.bytes_out += node.bytes_out;
            total.own_reply_bytes += node.own_reply_bytes;
        }
        Ok(total)
    }
}

impl RedisInfo {
    /// Reads the output of `INFO commandstats stats` (one node).
    pub fn parse(text: &str) -> Self {
        let mut info = Self {
            own_reply_bytes: u64::try_from(text.len()).unwrap_or(u64::MAX),
            ..Self::default()
        };
        for line in text.lines() {
            let line = line.trim();
            if let Some(rest) = line.strip_prefix("cmdstat_") {
                let Some((command, fields)) = rest.split_once(':') else {
                    continue;
                };
                let calls = fields
                    .split(',')
                    .find_map(|field| field.strip_prefix("calls="))
                    .and_then(|n| n.parse().ok())
                    .unwrap_or(0);
                info.calls.insert(command.to_owned(), calls);
            } else if let Some(n) = line.strip_prefix("total_net_input_bytes:") {
                info.bytes_in = n.parse().unwrap_or(0);
            } else if let Some(n) = line.strip_prefix("total_net_output_bytes:") {
                info.bytes_out = n.parse().unwrap_or(0);
            }
        }
        info
    }

    /// What happened between `earlier` and this reading, without the readings' own `INFO` calls and
    /// replies.
    pub fn since(&self, earlier: &RedisInfo) -> RedisInfo {
        let calls = self
            .calls
            .iter()
            .filter(|(command, _)| command.as_str() != "info")
            .map(|(command, &n)| {
                let before = earlier.calls.get(command).copied().unwrap_or(0);
                (command.clone(), n.saturating_sub(before))
            })
            .filter(|&(_, n)| n > 0)
            .collect();
        RedisInfo {
            calls,
            bytes_in: self.bytes_in.saturating_sub(earlier.bytes_in),
            bytes_out: self
                .bytes_out
                .saturating_sub(earlier.bytes_out)
                .saturating_sub(earlier.own_reply_bytes),
            own_reply_bytes: 0,
        }
    }

    /// Commands run, scripts and the commands they ran counted each.
    pub fn commands(&self) -> u64 {
        self.calls.values().sum()
    }
}

fn free_port() -> anyhow::Result<u16> {
    let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(probe.local_addr()?.port())
}

/// A free loopback port whose cluster bus port (10,000 higher) is free too.
fn cluster_port() -> anyhow::Result<u16> {
    for _ in 0..100 {
        let port = free_port()?;
        if port <= 55_535 && std::net::TcpListener::bind(("127.0.0.1", port + 10_000)).is_ok() {
            return Ok(port);
        }
    }
    bail!("no free port pair for a cluster node")
}

async fn wait_for_port(port: u16, what: &str) -> anyhow::Result<()> {
    let ready = async {
        while tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_err()
        {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    tokio::time::timeout(START_TIMEOUT, ready)
        .await
        .with_context(|| format!("{what} did not start in time"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const READING: &str = "# Commandstats\r\n\
        cmdstat_evalsha:calls=4,usec=120,usec_per_call=30.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_hset:calls=10,usec=20,usec_per_call=2.00,rejected_calls=0,failed_calls=0\r\n\
        cmdstat_info:calls=3,usec=300,usec_per_call=100.00,rejected_calls=0,failed_calls=0\r\n\
        \r\n# Stats\r\ntotal_connections_received:5\r\n\
        total_net_input_bytes:1000\r\ntotal_net_output_bytes:5000\r\n";

    /// A reading parses every command's calls and the byte totals; the difference between two leaves out
    /// the readings' own `INFO` calls and the first reading's reply.
    #[test]
    fn two_readings_give_what_the_chat_did_between_them() {
        let before = RedisInfo::parse(READING);
        assert_eq!(before.calls["evalsha"], 4);
        assert_eq!((before.bytes_in, before.bytes_out), (1000, 5000));
        assert_eq!(before.own_reply_bytes, READING.len() as u64);
        let after = RedisInfo::parse(
            &READING
                .replace("evalsha:calls=4", "evalsha:calls=6")
                .replace("info:calls=3", "info:calls=4")
                .replace("input_bytes:1000", "input_bytes:1400")
                .replace(
                    "output_bytes:5000",
                    &format!("output_bytes:{}", 5900 + READING.len()),
                ),
        );
        let between = after.since(&before);
        assert_eq!(between.calls, BTreeMap::from([("evalsha".to_owned(), 2)]));
        assert_eq!((between.bytes_in, between.bytes_out), (400, 900));
        assert_eq!(between.commands(), 2);
    }
}
