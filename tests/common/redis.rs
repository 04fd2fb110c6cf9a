//! A throwaway redis-server for the cluster tests.

use tokio::process::{Child, Command};

use super::daemon::{free_port, spawn, wait_until_listening};

/// A redis-server on a free loopback port, killed on drop.
pub struct RedisServer {
    _child: Child,
    port: u16,
}

impl RedisServer {
    /// Starts redis-server without persistence and waits until it listens.
    pub async fn start() -> RedisServer {
        let port = free_port();
        let child = spawn("redis-server", "redis-server", |command| {
            command
                .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
                .args(["--save", "", "--appendonly", "no"]);
        })
        .await;
        wait_until_listening(port, "redis-server").await;
        RedisServer {
            _child: child,
            port,
        }
    }

    /// The URL node-redis connects to.
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}", self.port)
    }
}
