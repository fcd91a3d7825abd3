//! `axt session` in a real terminal: util-linux `script` gives it a pseudo-terminal, so raw
//! mode, the terminal's size, SIGWINCH and the restoring of the terminal are all exercised.

mod common;

use std::process::Stdio;

use axt_proto::client_frame::{
    parse_resize,
    ClientMessageType::{Input, Output, Resize, Status},
};
use common::{finish, recv, send, FakeGateway, PATIENCE};
use tokio::{io::AsyncWriteExt as _, process::Command};

#[tokio::test]
async fn a_terminal_session_is_raw_sends_sizes_and_is_restored() {
    if Command::new("script")
        .arg("--version")
        .output()
        .await
        .is_err()
    {
        eprintln!("skipped: util-linux `script` is not installed");
        return;
    }
    let gateway = FakeGateway::start().await;
    let dir = tempfile::tempdir().unwrap();
    let tty_file = dir.path().join("tty");
    // The shell in the terminal: fix its size, say which terminal it is, run axt, then show
    // axt's exit code and the terminal's modes after it.
    let inner = format!(
        "stty cols 100 rows 30 && tty > {tty} && {axt} session --wss-url '{url}'; \
         echo axt-exit=$?; stty -a",
        tty = tty_file.display(),
        axt = env!("CARGO_BIN_EXE_axt"),
        url = gateway.url("tok-tty"),
    );
    let mut child = Command::new("script")
        .args(["-q", "-e", "-c", &inner, "/dev/null"])
        .env_clear()
        .env("PATH", "/usr/bin:/bin")
        .env("HOME", dir.path())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut keyboard = child.stdin.take().unwrap();

    let mut ws = gateway.accept(None).await.0.unwrap();
    send(&mut ws, Status, &[3]).await;
    // Nothing is sent before the first Output; then the size, as the first frame.
    send(&mut ws, Output, b"prompt$ ").await;
    let frame = recv(&mut ws).await;
    assert_eq!((frame.kind, frame.seq), (Resize, 0));
    assert_eq!(parse_resize(&frame.payload), Some((100, 30)));
    assert_eq!(frame.payload, [30, 0, 100, 0]);

    // Raw mode: Ctrl-C is a byte for the remote shell, not a signal for axt.
    keyboard.write_all(b"x\x03").await.unwrap();
    keyboard.flush().await.unwrap();
    let mut typed = Vec::new();
    let mut seq = 1;
    while typed.len() < 2 {
        let frame = recv(&mut ws).await;
        assert_eq!((frame.kind, frame.seq), (Input, seq));
        typed.extend_from_slice(&frame.payload);
        seq += 1;
    }
    assert_eq!(typed, b"x\x03");

    // Resizing the terminal (as a window manager would) sends SIGWINCH, then a Resize that
    // takes the next number of the one counter.
    let tty = std::fs::read_to_string(&tty_file).unwrap();
    let resized = Command::new("stty")
        .args(["-F", tty.trim(), "cols", "120", "rows", "40"])
        .status()
        .await
        .unwrap();
    assert!(resized.success());
    let frame = recv(&mut ws).await;
    assert_eq!((frame.kind, frame.seq), (Resize, seq));
    assert_eq!(parse_resize(&frame.payload), Some((120, 40)));

    send(&mut ws, Status, b"\x05Exit").await;
    let out = tokio::time::timeout(PATIENCE, async {
        let out = finish(child).await;
        drop(keyboard);
        out
    })
    .await
    .unwrap();
    assert!(out.stdout.contains("prompt$ "), "{}", out.stdout);
    assert!(
        out.stdout.contains("Exit: session closed."),
        "{}",
        out.stdout
    );
    assert!(out.stdout.contains("axt-exit=0"), "{}", out.stdout);
    // `stty -a` after axt: canonical mode and echo are back on.
    let modes: Vec<&str> = out.stdout.split_whitespace().collect();
    for mode in ["icanon", "echo", "isig", "icrnl", "opost"] {
        assert!(
            modes.contains(&mode),
            "{mode} is off after axt: {}",
            out.stdout
        );
    }
}
