//! Throwaway proxies for the proxy tests: tinyproxy (HTTP CONNECT) and
//! microsocks (SOCKS5), each on a free loopback port with credentials,
//! killed on drop.

use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// The user and password every test proxy asks for.
pub const USER: &str = "sio";
pub const PASSWORD: &str = "s3cret";

/// A running proxy.
pub struct TestProxy {
    child: Child,
    port: u16,
    config: Option<std::path::PathBuf>,
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|listener| listener.local_addr())
        .expect("a free port")
        .port()
}

async fn wait_until_listening(port: u16, what: &str) {
    for _ in 0..200 {
        if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    panic!("{what} did not start on port {port}");
}

fn spawn(command: &mut Command, what: &str, package: &str) -> Child {
    command
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap_or_else(|error| {
            panic!(
                "{what} is required for the proxy tests ({error}): \
                 install it with `apt-get install {package}`"
            )
        })
}

impl TestProxy {
    /// tinyproxy, tunnelling with CONNECT to any port, for `USER`:`PASSWORD`.
    pub async fn http() -> TestProxy {
        let port = free_port();
        let config = std::env::temp_dir().join(format!("sioclient-tinyproxy-{port}.conf"));
        // No ConnectPort line: CONNECT to every port is allowed.
        let text = format!(
            "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 100\n\
             LogLevel Error\nBasicAuth {USER} {PASSWORD}\n"
        );
        std::fs::write(&config, text).expect("write the tinyproxy config");
        let child = spawn(
            Command::new("tinyproxy").arg("-d").arg("-c").arg(&config),
            "tinyproxy",
            "tinyproxy",
        );
        wait_until_listening(port, "tinyproxy").await;
        TestProxy {
            child,
            port,
            config: Some(config),
        }
    }

    /// microsocks, for `USER`:`PASSWORD`.
    pub async fn socks5() -> TestProxy {
        let port = free_port();
        let child = spawn(
            Command::new("microsocks")
                .args(["-i", "127.0.0.1", "-p", &port.to_string()])
                .args(["-u", USER, "-P", PASSWORD]),
            "microsocks",
            "microsocks",
        );
        wait_until_listening(port, "microsocks").await;
        TestProxy {
            child,
            port,
            config: None,
        }
    }

    /// The proxy's URL with the credentials, for `ClientBuilder::proxy`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{USER}:{PASSWORD}@127.0.0.1:{}", self.port)
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
        if let Some(config) = &self.config {
            let _ = std::fs::remove_file(config);
        }
    }
}
