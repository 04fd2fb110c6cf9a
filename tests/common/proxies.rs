//! Throwaway proxies for the proxy tests: tinyproxy (HTTP CONNECT) and
//! microsocks (SOCKS5), each on a free loopback port with credentials,
//! killed on drop.

use std::process::Stdio;

use tokio::process::{Child, Command};

use super::daemon::{free_port, spawn, wait_until_listening, ConfigFile};

/// The user and password every test proxy asks for.
pub const USER: &str = "sio";
pub const PASSWORD: &str = "s3cret";

/// A running proxy.
pub struct TestProxy {
    _child: Child,
    port: u16,
    _config: Option<ConfigFile>,
}

impl TestProxy {
    /// tinyproxy, tunnelling with CONNECT to any port, for `USER`:`PASSWORD`.
    pub async fn http() -> TestProxy {
        let port = free_port();
        // No ConnectPort line: CONNECT to every port is allowed.
        let config = ConfigFile::write(
            &format!("sioclient-tinyproxy-{port}.conf"),
            &format!(
                "Port {port}\nListen 127.0.0.1\nTimeout 600\nMaxClients 100\n\
                 LogLevel Error\nBasicAuth {USER} {PASSWORD}\n"
            ),
        );
        let child = spawn("tinyproxy", "tinyproxy", |command| {
            command
                .arg("-d")
                .arg("-c")
                .arg(&config.0)
                .stderr(Stdio::null());
        })
        .await;
        wait_until_listening(port, "tinyproxy").await;
        TestProxy {
            _child: child,
            port,
            _config: Some(config),
        }
    }

    /// microsocks, for `USER`:`PASSWORD`.
    pub async fn socks5() -> TestProxy {
        let port = free_port();
        let child = spawn("microsocks", "microsocks", |command| {
            command
                .args(["-i", "127.0.0.1", "-p", &port.to_string()])
                .args(["-u", USER, "-P", PASSWORD])
                .stderr(Stdio::null());
        })
        .await;
        wait_until_listening(port, "microsocks").await;
        TestProxy {
            _child: child,
            port,
            _config: None,
        }
    }

    /// The proxy's URL with the credentials, for `ClientBuilder::proxy`.
    pub fn url(&self, scheme: &str) -> String {
        format!("{scheme}://{USER}:{PASSWORD}@127.0.0.1:{}", self.port)
    }
}
