//! Numbers and tables every benchmark shares: percentiles, medians, Markdown tables, CPU time
//! and resident memory from `/proc`.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::support::Fallible;

/// A Markdown table, printed as it is built so that a long benchmark shows progress.
pub(crate) struct Table {
    pub(crate) headers: Vec<String>,
    pub(crate) rows: Vec<Vec<String>>,
}

impl Table {
    pub(crate) fn new(headers: &[&str]) -> Self {
        Table { headers: headers.iter().map(|h| (*h).to_owned()).collect(), rows: Vec::new() }
    }

    pub(crate) fn row(&mut self, cells: Vec<String>) {
        self.rows.push(cells);
    }

    pub(crate) fn print(&self, title: &str) {
        let mut out = format!("\n### {title}\n\n| {} |\n|", self.headers.join(" | "));
        for _ in &self.headers {
            out.push_str("---|");
        }
        out.push('\n');
        for row in &self.rows {
            let _ = writeln!(out, "| {} |", row.join(" | "));
        }
        println!("{out}");
    }
}

/// Nearest-rank percentile of sorted values.
pub(crate) fn percentile(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    // Truncation is intended: the rank is a small positive whole number.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss, clippy::cast_precision_loss)]
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.saturating_sub(1).min(sorted.len() - 1)]
}

pub(crate) fn sorted(mut values: Vec<f64>) -> Vec<f64> {
    values.sort_by(f64::total_cmp);
    values
}

pub(crate) fn median(values: &[f64]) -> f64 {
    let s = sorted(values.to_vec());
    match s.len() {
        0 => f64::NAN,
        n if n % 2 == 1 => s[n / 2],
        n => (s[n / 2 - 1] + s[n / 2]) / 2.0,
    }
}

pub(crate) fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1_000.0
}

pub(crate) fn f0(x: f64) -> String {
    format!("{x:.0}")
}

pub(crate) fn f1(x: f64) -> String {
    format!("{x:.1}")
}

pub(crate) fn f2(x: f64) -> String {
    format!("{x:.2}")
}

pub(crate) fn f3(x: f64) -> String {
    format!("{x:.3}")
}

/// Microseconds since the Unix epoch.
pub(crate) fn now_us() -> i64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
}

pub(crate) fn now_ms() -> i64 {
    now_us() / 1_000
}

/// A line of `/proc/self/status` in MiB (`VmRSS`, `VmHWM`).
pub(crate) fn proc_status_mib(key: &str) -> Fallible<f64> {
    let status = std::fs::read_to_string("/proc/self/status")?;
    let line = status
        .lines()
        .find(|l| l.starts_with(key))
        .ok_or_else(|| format!("/proc/self/status has no {key} line (not Linux?)"))?;
    let kib: f64 = line
        .trim_start_matches(key)
        .trim_start_matches(':')
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .map_err(|e| format!("cannot read {key} from `{line}`: {e}"))?;
    Ok(kib / 1024.0)
}

/// CPU seconds (user + system) in a `/proc/.../stat` line; the kernel counts in ticks of
/// 1/100 s on Linux.
pub(crate) fn stat_cpu_s(stat: &str) -> Option<f64> {
    // The command name may contain spaces: fields are counted after its closing parenthesis.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i).and_then(|v| v.parse::<f64>().ok());
    Some((ticks(11)? + ticks(12)?) / 100.0)
}

/// CPU seconds of a process and of its children, those alive and those it has reaped (a
/// server's connections: Postgres forks one process per connection and reaps it when it ends).
pub(crate) fn process_tree_cpu_s(pid: u32) -> Fallible<f64> {
    // After the command name: state (0), ppid (1), ..., utime (11), stime, cutime, cstime (14).
    let field =
        |stat: &str, i: usize| -> Option<u64> { stat.rsplit_once(')')?.1.split_whitespace().nth(i)?.parse().ok() };
    let own = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let mut ticks = 0;
    for i in 11..=14 {
        ticks += field(&own, i).ok_or("cannot read a /proc stat line")?;
    }
    for entry in std::fs::read_dir("/proc")?.filter_map(Result::ok) {
        if !entry.file_name().to_string_lossy().bytes().all(|b| b.is_ascii_digit()) {
            continue;
        }
        // A child may end between the listing and the read: it is then in `cutime`.
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        if field(&stat, 1) == Some(u64::from(pid)) {
            ticks += field(&stat, 11).unwrap_or(0) + field(&stat, 12).unwrap_or(0);
        }
    }
    #[allow(clippy::cast_precision_loss)]
    Ok(ticks as f64 / 100.0)
}

/// CPU time used so far: by this process, and by its SQLite writer threads.
#[derive(Clone, Copy)]
pub(crate) struct Cpu {
    pub(crate) process: f64,
    pub(crate) writer: f64,
}

impl Cpu {
    pub(crate) fn now() -> Fallible<Cpu> {
        let process = stat_cpu_s(&std::fs::read_to_string("/proc/self/stat")?).ok_or("cannot read /proc/self/stat")?;
        let mut writer = 0.0;
        for task in std::fs::read_dir("/proc/self/task")? {
            let dir = task?.path();
            let is_writer = std::fs::read_to_string(dir.join("comm")).is_ok_and(|c| c.trim() == "hookflow-sqlite");
            if is_writer {
                writer += std::fs::read_to_string(dir.join("stat")).ok().and_then(|s| stat_cpu_s(&s)).unwrap_or(0.0);
            }
        }
        Ok(Cpu { process, writer })
    }

    /// CPU used by another process so far.
    pub(crate) fn of(pid: u32) -> Fallible<f64> {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat"))?;
        Ok(stat_cpu_s(&stat).ok_or("cannot read a /proc stat line")?)
    }

    pub(crate) fn since(self, before: Cpu) -> Cpu {
        Cpu { process: self.process - before.process, writer: self.writer - before.writer }
    }
}

/// `key=value` pairs of a result line.
pub(crate) fn key_values(line: &str) -> HashMap<String, String> {
    line.split_whitespace().filter_map(|kv| kv.split_once('=')).map(|(k, v)| (k.to_owned(), v.to_owned())).collect()
}
