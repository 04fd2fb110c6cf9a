//! What the throwaway daemons of the tests share (redis-server, haproxy,
//! tinyproxy, microsocks): a free port, a start that installs the program
//! from Debian's packages when it is missing, the wait until it listens,
//! and a config file removed with it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};
use tokio::sync::Mutex;

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `program` as `setup` configures it, killed on drop, with its
/// stdout dropped. A program that is missing is installed first from
/// Debian's `package` with apt-get (as root, or through `sudo -n`, which
/// never asks for a password); when that cannot be done, the test fails
/// saying what to install.
pub async fn spawn(program: &str, package: &str, setup: impl FnOnce(&mut Command)) -> Child {
    let path = find_or_install(program, package).await;
    let mut command = Command::new(path);
    setup(&mut command);
    command
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| panic!("{program} did not start: {error}"))
}

/// Where `program` is, once installed.
async fn find_or_install(program: &str, package: &str) -> PathBuf {
    // One install at a time: the tests of a binary run in parallel.
    static INSTALLING: Mutex<()> = Mutex::const_new(());
    if let Some(path) = find(program) {
        return path;
    }
    let _installing = INSTALLING.lock().await;
    if let Some(path) = find(program) {
        return path;
    }
    eprintln!("{program} is missing: installing Debian's {package} with apt-get");
    if let Err(error) = install(package).await {
        panic!(
            "{program} is required for these tests and could not be installed ({error}): \
             install Debian's {package} (`apt-get install {package}`)"
        );
    }
    find(program).unwrap_or_else(|| panic!("{package} is installed, but {program} is not found"))
}

/// `program` on the PATH, or where Debian puts daemons (not on every PATH).
fn find(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin", "/usr/local/sbin", "/sbin"].map(PathBuf::from))
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
}

/// Installs a Debian package, updating the package lists when the first
/// try fails.
async fn install(package: &str) -> Result<(), String> {
    let install = [
        "install",
        "-y",
        "-q",
        "--no-install-recommends",
        "-o",
        "DPkg::Lock::Timeout=300",
        package,
    ];
    if apt_get(&install).await.is_ok() {
        return Ok(());
    }
    apt_get(&["update", "-q"]).await?;
    apt_get(&install).await
}

async fn apt_get(args: &[&str]) -> Result<(), String> {
    let root = is_root().await;
    let mut command = if root {
        Command::new("apt-get")
    } else {
        let mut sudo = Command::new("sudo");
        sudo.args(["-n", "apt-get"]);
        sudo
    };
    let output = command
        .args(args)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .output()
        .await
        .map_err(|error| format!("apt-get {}: {error}", args[0]))?;
    if output.status.success() {
        return Ok(());
    }
    let stderr = String::from_utf8_lossy(&output.stderr);
    let last = stderr.lines().last().unwrap_or_default();
    Err(format!("apt-get {} failed: {last}", args[0]))
}

async fn is_root() -> bool {
    let output = Command::new("id").arg("-u").output().await;
    output.is_ok_and(|output| output.stdout.starts_with(b"0\n"))
}

/// Waits until something accepts connections on the loopback `port`.
pub async fn wait_until_listening(port: u16, what: &str) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not start on port {port}");
}

/// A config file in the temporary directory, removed on drop.
pub struct ConfigFile(pub PathBuf);

impl ConfigFile {
    /// Writes `text` to `name` in the temporary directory.
    pub fn write(name: &str, text: &str) -> ConfigFile {
        let path = std::env::temp_dir().join(name);
        std::fs::write(&path, text).expect("write a config file");
        ConfigFile(path)
    }
}

impl Drop for ConfigFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
