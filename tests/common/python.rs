//! The python-socketio server's virtual environment: made in
//! `tests/server-python/.venv` and filled from its pinned requirements.txt
//! when missing or stale, once per test run, one installer at a time.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;

use super::install_lock;

pub const MISSING: &str = "Python 3 with pip and venv is required for the python-socketio \
     tests (e.g. apt-get install python3 python3-venv)";

/// The venv's interpreter, after making sure the venv holds exactly the
/// pinned requirements.
pub fn ensure_venv(dir: &Path) -> PathBuf {
    static READY: Mutex<bool> = Mutex::new(false);
    let mut ready = READY.lock().unwrap_or_else(|e| e.into_inner());
    let python = dir.join(".venv/bin/python");
    if *ready || installed(dir) {
        *ready = true;
        return python;
    }
    let _lock = install_lock::acquire("sioclient-venv-install.lock");
    if !installed(dir) {
        eprintln!(
            "sioclient tests: installing python-socketio in {}",
            dir.display()
        );
        run(dir, "python3", &["-m", "venv", "--clear", ".venv"]);
        run(
            dir,
            ".venv/bin/python",
            &[
                "-m",
                "pip",
                "install",
                "--quiet",
                "--no-deps",
                "-r",
                "requirements.txt",
            ],
        );
        std::fs::copy(dir.join("requirements.txt"), stamp(dir))
            .expect("the venv's copy of requirements.txt");
    }
    *ready = true;
    python
}

/// The copy of requirements.txt the last install left in the venv.
fn stamp(dir: &Path) -> PathBuf {
    dir.join(".venv/installed-requirements.txt")
}

fn installed(dir: &Path) -> bool {
    let wanted = std::fs::read(dir.join("requirements.txt")).expect("requirements.txt");
    dir.join(".venv/bin/python").exists() && std::fs::read(stamp(dir)).ok() == Some(wanted)
}

fn run(dir: &Path, program: &str, args: &[&str]) {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("{MISSING} (running {program} failed: {e})"));
    assert!(
        out.status.success(),
        "`{program} {}` in {} failed with {}:\n{}\n{}",
        args.join(" "),
        dir.display(),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}
