//! A throwaway HAProxy load balancer with cookie stickiness, for the
//! cluster tests over polling.

use std::net::SocketAddr;
use std::process::Stdio;
use std::time::Duration;

use tokio::net::TcpStream;
use tokio::process::{Child, Command};

/// HAProxy on a free loopback port, balancing round-robin between
/// `backends` and pinning a client to one by the `SERVERID` cookie it
/// inserts; killed on drop. `abortonclose`: a client that goes away ends
/// its pending poll on the server too, as it would without the balancer.
pub struct HaProxy {
    child: Child,
    port: u16,
    _config: tempdir::Dir,
}

mod tempdir {
    /// A config file that is removed on drop.
    pub struct Dir(pub std::path::PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

impl HaProxy {
    pub async fn start(backends: &[SocketAddr]) -> HaProxy {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|listener| listener.local_addr())
            .expect("a free port")
            .port();
        let mut config = format!(
            "global\n  maxconn 256\n\
             defaults\n  mode http\n  option abortonclose\n  timeout connect 5s\n  timeout client 60s\n  timeout server 60s\n  timeout tunnel 60s\n\
             frontend front\n  bind 127.0.0.1:{port}\n  default_backend nodes\n\
             backend nodes\n  balance roundrobin\n  cookie SERVERID insert indirect nocache\n"
        );
        for (i, backend) in backends.iter().enumerate() {
            config.push_str(&format!("  server node{i} {backend} cookie node{i}\n"));
        }
        let path = std::env::temp_dir().join(format!("sioclient-haproxy-{port}.cfg"));
        std::fs::write(&path, config).expect("write the HAProxy config");
        let child = Command::new("haproxy")
            .arg("-db")
            .arg("-f")
            .arg(&path)
            .stdout(Stdio::null())
            .stderr(Stdio::inherit())
            .kill_on_drop(true)
            .spawn()
            .unwrap_or_else(|error| {
                panic!(
                    "haproxy is required for the load balancer tests ({error}): \
                     install it with `apt-get install haproxy`"
                )
            });
        for _ in 0..200 {
            if TcpStream::connect(("127.0.0.1", port)).await.is_ok() {
                return HaProxy {
                    child,
                    port,
                    _config: tempdir::Dir(path),
                };
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
        panic!("haproxy did not start on port {port}");
    }

    /// `http://127.0.0.1:<port>`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for HaProxy {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}
