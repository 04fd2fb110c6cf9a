//! What the throwaway daemons of the tests share (redis-server, haproxy,
//! tinyproxy, microsocks): a free port, a start that names the package to
//! install when the program is missing, the wait until it listens, and a
//! config file removed with it.

use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// A free loopback port.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

/// Starts `command`, killed on drop; a missing program fails the test with
/// the package that provides it. Its stdout is dropped.
pub fn spawn(command: &mut Command, what: &str, package: &str) -> Child {
    command
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "{what} is required for these tests ({error}): \
                 install it with `apt-get install {package}`"
            )
        })
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
