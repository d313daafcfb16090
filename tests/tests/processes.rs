//! One SQLite store, two real processes: the second is refused at start with an error that
//! names the file and the process that owns it, so two processes can never both execute the
//! same runs. Once the owner dies (even by SIGKILL) the file is free again.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

struct Worker(Child);

impl Drop for Worker {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn worker(dir: &Path, port_file: &str) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_crash_worker"));
    command
        .arg("--db")
        .arg(dir.join("engine.db"))
        .arg("--effects")
        .arg(dir.join("effects.log"))
        .arg("--port-file")
        .arg(dir.join(port_file))
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    command
}

fn wait_for(path: &Path) {
    let started = Instant::now();
    while !path.exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "the worker did not start");
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_second_process_on_the_same_sqlite_file_is_refused_and_the_file_is_free_once_the_owner_dies() {
    let dir = tempfile::tempdir().expect("temp dir");
    let first = Worker(worker(dir.path(), "first.port").spawn().expect("start the first worker"));
    wait_for(&dir.path().join("first.port"));

    let second = worker(dir.path(), "second.port").output().expect("run the second worker");
    assert!(!second.status.success(), "the second process must not run on the same file");
    let stderr = String::from_utf8_lossy(&second.stderr);
    let db = dir.path().join("engine.db");
    assert!(stderr.contains(&db.display().to_string()), "the error names the file: {stderr}");
    assert!(
        stderr.contains(&format!("process {}", first.0.id())),
        "the error names the process that owns it: {stderr}"
    );
    assert!(!dir.path().join("second.port").exists(), "the second process never served");

    // SIGKILL: the kernel releases the lock with the process.
    drop(first);
    let third = Worker(worker(dir.path(), "third.port").spawn().expect("start the third worker"));
    wait_for(&dir.path().join("third.port"));
    drop(third);
}
