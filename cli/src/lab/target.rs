//! The private target host's services: a small web service (`axt lab serve-target`, run by
//! `axt lab up` in the target's namespace) and an OpenSSH server.
//!
//! The web service answers every GET with one page saying where it runs and whom it sees
//! connecting: through a port forward, that is the instance's private address, never the
//! client's. Each request is logged on stderr, so the target's log shows the hop.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    process::ExitCode,
    time::Duration,
};

use anyhow::{bail, Context as _};
use axt_kit::sshd;
use tokio::{
    io::{AsyncReadExt as _, AsyncWriteExt as _},
    net::{TcpListener, TcpStream},
    signal::unix::{signal, SignalKind},
};

use crate::args::ServeTargetArgs;

/// The words every page starts with (what the tests and the tour look for).
pub const GREETING: &str = "Hello from the private target";
/// Longest request head read.
const MAX_HEAD: usize = 8 * 1024;
/// A client gets this long to send its request.
const READ_TIMEOUT: Duration = Duration::from_secs(10);

/// `axt lab serve-target`: serves until SIGTERM or SIGINT.
pub async fn serve(args: &ServeTargetArgs) -> anyhow::Result<ExitCode> {
    let listener = TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("cannot listen on {}", args.listen))?;
    let local = listener.local_addr()?;
    if let Some(ready) = &args.ready_file {
        std::fs::write(ready, local.to_string())
            .with_context(|| format!("writing {}", ready.display()))?;
    }
    eprintln!("serving http://{local}/ as {}", args.name);
    let mut term = signal(SignalKind::terminate())?;
    let mut int = signal(SignalKind::interrupt())?;
    loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, peer)) => {
                    let name = args.name.clone();
                    tokio::spawn(async move {
                        if let Err(err) = answer(stream, peer, local, &name).await {
                            eprintln!("{peer}: {err:#}");
                        }
                    });
                }
                Err(err) => {
                    eprintln!("accept failed: {err}");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            },
            _ = term.recv() => break,
            _ = int.recv() => break,
        }
    }
    eprintln!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Reads one request head and answers it (HTTP/1.0: one request per connection).
async fn answer(
    mut stream: TcpStream,
    peer: SocketAddr,
    local: SocketAddr,
    name: &str,
) -> anyhow::Result<()> {
    let mut head = Vec::new();
    let mut buf = [0u8; 1024];
    tokio::time::timeout(READ_TIMEOUT, async {
        while !head.windows(4).any(|w| w == b"\r\n\r\n") && !head.windows(2).any(|w| w == b"\n\n") {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
            if head.len() > MAX_HEAD {
                bail!("request head longer than {MAX_HEAD} bytes");
            }
        }
        Ok(())
    })
    .await
    .context("no request within 10 s")??;
    let text = String::from_utf8_lossy(&head);
    let request_line = text.lines().next().unwrap_or("").trim().to_owned();
    let method = request_line.split_whitespace().next().unwrap_or("");
    let (status, body) = match method {
        "GET" | "HEAD" => ("200 OK", page(name, local, peer)),
        "" => return Ok(()),
        _ => ("405 Method Not Allowed", "only GET and HEAD\n".to_owned()),
    };
    eprintln!("{peer} \"{request_line}\" {status}");
    let mut response = format!(
        "HTTP/1.0 {status}\r\nServer: axtlab-target\r\nContent-Type: text/html; charset=utf-8\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    )
    .into_bytes();
    if method != "HEAD" {
        response.extend_from_slice(body.as_bytes());
    }
    stream.write_all(&response).await?;
    stream.shutdown().await?;
    Ok(())
}

/// The page: where it is served and whom it was served to.
fn page(name: &str, local: SocketAddr, peer: SocketAddr) -> String {
    format!(
        "<!doctype html>\n<title>axtlab private target</title>\n\
         <h1>{GREETING}</h1>\n\
         <p>Served by {name} on {local}, an address only the lab's instances reach.</p>\n\
         <p>This request came from {peer}: the instance whose agent opened the connection, \
         not your machine.</p>\n"
    )
}

/// The target's sshd, its files in `dir` (made once: a host key, a client key root may log in
/// with, the configuration): the command that runs it on `listen` through `launcher`, and the
/// client key.
pub fn sshd(
    dir: &Path,
    launcher: &[String],
    listen: SocketAddr,
) -> anyhow::Result<(std::process::Command, PathBuf)> {
    std::fs::create_dir_all(dir)?;
    let keys = sshd::Keys::generate(dir, "axtlab")?;
    let config = format!(
        "# The lab target's sshd (written by axt lab up).\n{}",
        sshd::config(listen, &keys, Some("root"))
    );
    let cmd = sshd::command(launcher, &dir.join("sshd_config"), &config)?;
    Ok((cmd, keys.client_key))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn answers_get_with_the_page_and_names_the_peer() {
        let dir = tempfile::tempdir().unwrap();
        let ready = dir.path().join("ready");
        let args = ServeTargetArgs {
            listen: "127.0.0.1:0".parse().unwrap(),
            name: "unit-target".into(),
            ready_file: Some(ready.clone()),
        };
        let server = tokio::spawn(async move { serve(&args).await.map(|_| ()) });
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        let addr: SocketAddr = loop {
            if let Ok(text) = std::fs::read_to_string(&ready) {
                if let Ok(addr) = text.parse() {
                    break addr;
                }
            }
            assert!(tokio::time::Instant::now() < deadline, "never ready");
            tokio::time::sleep(Duration::from_millis(20)).await;
        };
        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"GET / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.0 200 OK\r\n"), "{reply}");
        assert!(reply.contains(GREETING), "{reply}");
        assert!(reply.contains("unit-target"), "{reply}");
        let mine = stream.local_addr().unwrap();
        assert!(reply.contains(&mine.to_string()), "{reply}");

        let mut stream = TcpStream::connect(addr).await.unwrap();
        stream.write_all(b"POST / HTTP/1.0\r\n\r\n").await.unwrap();
        let mut reply = String::new();
        stream.read_to_string(&mut reply).await.unwrap();
        assert!(reply.starts_with("HTTP/1.0 405"), "{reply}");
        server.abort();
    }
}
