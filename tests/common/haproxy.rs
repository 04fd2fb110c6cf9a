//! A throwaway HAProxy load balancer with cookie stickiness, for the
//! cluster tests over polling.

use std::net::SocketAddr;

use tokio::process::{Child, Command};

use super::daemon::{free_port, spawn, wait_until_listening, ConfigFile};

/// HAProxy on a free loopback port, balancing round-robin between
/// `backends` and pinning a client to one by the `SERVERID` cookie it
/// inserts; killed on drop. `abortonclose`: a client that goes away ends
/// its pending poll on the server too, as it would without the balancer.
pub struct HaProxy {
    _child: Child,
    port: u16,
    _config: ConfigFile,
}

impl HaProxy {
    pub async fn start(backends: &[SocketAddr]) -> HaProxy {
        let port = free_port();
        let mut config = format!(
            "global\n  maxconn 256\n\
             defaults\n  mode http\n  option abortonclose\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  timeout tunnel 60s\n\
             frontend front\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\
             backend nodes\n  balance roundrobin\n  cookie SERVERID insert indirect nocache\n"
        );
        for (i, backend) in backends.iter().enumerate() {
            config.push_str(&format!("  server node{i} {backend} cookie node{i}\n"));
        }
        let config = ConfigFile::write(&format!("sioclient-haproxy-{port}.cfg"), &config);
        let child = spawn("haproxy", "haproxy", |command| {
            command.arg("-db").arg("-f").arg(&config.0);
        })
        .await;
        wait_until_listening(port, "haproxy").await;
        HaProxy {
            _child: child,
            port,
            _config: config,
        }
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}
