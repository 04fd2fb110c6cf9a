//! Starts the bundled Node test server (tests/server) for the examples, so
//! they run with nothing but Node.js and npm installed.

use std::path::PathBuf;
use std::process::Stdio;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};

/// The bundled server, killed when dropped.
pub struct BundledServer {
    _child: Child,
    /// `http://127.0.0.1:<port>`, or `https://` with `--tls-cert`
    pub url: String,
}

/// The URL given as the first argument, or a freshly started bundled server.
pub async fn server_from_args(
    server_args: &[&str],
) -> Result<(String, Option<BundledServer>), Box<dyn std::error::Error>> {
    if let Some(url) = std::env::args().nth(1) {
        return Ok((url, None));
    }
    let server = BundledServer::start(server_args).await?;
    Ok((server.url.clone(), Some(server)))
}

impl BundledServer {
    /// Runs `npm ci` when needed, starts `node server.js` and waits for its port.
    pub async fn start(args: &[&str]) -> Result<BundledServer, Box<dyn std::error::Error>> {
        let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/server");
        let installed = ["socket.io", "socket.io-msgpack-parser"]
            .iter()
            .all(|package| dir.join("node_modules").join(package).exists());
        if !installed {
            eprintln!("installing the bundled server's packages (npm ci)...");
            let status = Command::new("npm")
                .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
                .current_dir(&dir)
                .status()
                .await
                .map_err(|e| format!("npm is required to start the bundled server: {e}"))?;
            if !status.success() {
                return Err(format!("npm ci failed in {}", dir.display()).into());
            }
        }
        let mut child = Command::new("node")
            .arg("server.js")
            .args(args)
            .current_dir(&dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| format!("Node.js is required to start the bundled server: {e}"))?;
        let stdout = child.stdout.take().ok_or("no stdout")?;
        let mut lines = BufReader::new(stdout).lines();
        while let Some(line) = lines.next_line().await? {
            if let Some(port) = line.strip_prefix("LISTENING ") {
                let scheme = if args.contains(&"--tls-cert") {
                    "https"
                } else {
                    "http"
                };
                let url = format!("{scheme}://127.0.0.1:{}", port.trim());
                // Keep reading so the server never blocks on a full pipe.
                tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
                return Ok(BundledServer { _child: child, url });
            }
        }
        Err("the bundled server exited before listening".into())
    }
}
