//! One installer at a time across the test processes: a lock file made with
//! `create_new` in cargo's per-target scratch directory, so that it never
//! shows up in the work tree.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant, SystemTime};

/// Removes the lock file when dropped (also on panic).
pub struct LockFile(PathBuf);

impl Drop for LockFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

/// Waits until this process holds the lock `name`. A lock older than 10
/// minutes is taken for abandoned and taken over.
pub fn acquire(name: &str) -> LockFile {
    let lock_path = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::create_dir_all(env!("CARGO_TARGET_TMPDIR"));
    let started = Instant::now();
    loop {
        match std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock_path)
        {
            Ok(_) => return LockFile(lock_path),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                let stale = std::fs::metadata(&lock_path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| SystemTime::now().duration_since(t).ok())
                    .is_some_and(|age| age > Duration::from_secs(600));
                if stale {
                    let _ = std::fs::remove_file(&lock_path);
                    continue;
                }
                if started.elapsed() > Duration::from_secs(900) {
                    panic!("waited too long for {}", lock_path.display());
                }
                std::thread::sleep(Duration::from_millis(200));
            }
            Err(e) => panic!("cannot create {}: {e}", lock_path.display()),
        }
    }
}
