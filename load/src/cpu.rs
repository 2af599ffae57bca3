//! The CPU time a set of server processes spent, read from Linux's per-thread scheduler statistics
//! (`/proc/PID/task/TID/schedstat`, nanoseconds on the CPU), so a benchmark can charge a scenario what
//! its servers computed for it: a cost that depends far less than throughput on how fast the load
//! generator, sharing the machine, happened to be. The per-process `utime`/`stime` of `/proc/PID/stat` counts 10 ms ticks,
//! too coarse for a run of half a second; a thread that exits between two readings takes its time with
//! it, which the servers measured here (tokio's workers, `redis-server`'s main thread) do not do.

use std::path::Path;

use anyhow::Context;

/// Processes whose CPU time is read together.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Processes(pub Vec<u32>);

impl Processes {
    /// Nanoseconds every thread of every process has spent on a CPU so far.
    pub fn cpu_ns(&self) -> anyhow::Result<u64> {
        let mut total = 0;
        for pid in &self.0 {
            total += process_cpu_ns(Path::new(&format!("/proc/{pid}/task")))
                .with_context(|| format!("reading the CPU time of process {pid}"))?;
        }
        Ok(total)
    }
}

/// The sum over `tasks` (a `/proc/PID/task` directory) of each thread's time on a CPU.
fn process_cpu_ns(tasks: &Path) -> anyhow::Result<u64> {
    let mut total = 0;
    for task in std::fs::read_dir(tasks)? {
        // A thread may exit between listing and reading: it no longer counts either way.
        let Ok(stat) = std::fs::read_to_string(task?.path().join("schedstat")) else {
            continue;
        };
        total += on_cpu_ns(&stat).context("an unreadable schedstat line")?;
    }
    Ok(total)
}

/// The first field of a `schedstat` line: `<ns on the CPU> <ns waiting to run> <time slices>`.
fn on_cpu_ns(schedstat: &str) -> Option<u64> {
    schedstat.split_whitespace().next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A schedstat line gives its first field; anything else is refused, not read as zero.
    #[test]
    fn a_schedstat_line_gives_its_time_on_the_cpu() {
        assert_eq!(on_cpu_ns("59930142 44875058 162\n"), Some(59_930_142));
        assert_eq!(on_cpu_ns(""), None);
        assert_eq!(on_cpu_ns("x 1 2"), None);
    }

    /// This process's CPU time grows while it computes, and a missing process is an error.
    #[test]
    fn a_busy_process_is_charged_its_work() {
        let me = Processes(vec![std::process::id()]);
        let before = me.cpu_ns().unwrap();
        let mut x = 1u64;
        for i in 0..20_000_000u64 {
            x = std::hint::black_box(x.wrapping_mul(31).wrapping_add(i));
        }
        let after = me.cpu_ns().unwrap();
        assert!(after > before, "{before} → {after} after work ({x})");
        assert!(Processes(vec![u32::MAX]).cpu_ns().is_err());
    }
}
