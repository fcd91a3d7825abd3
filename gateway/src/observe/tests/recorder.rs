//! The recorder on its own, on paused time, against a stand-in control plane: the asciicast it
//! appends, when it appends, and what it does when the control plane does not answer.

use std::{sync::atomic::Ordering, time::Duration};

use serde_json::json;
use tokio::time::Instant;

use super::super::{
    recorder::{Names, Recorder, FINAL_ATTEMPTS},
    testing::{lines, next_append, policy, Appends},
};

fn names() -> Names {
    Names {
        session_id: "s-1".into(),
        channel_id: "c-1".into(),
        instance_id: "i-1".into(),
    }
}

#[tokio::test(start_paused = true)]
async fn appends_every_flush_interval_and_a_last_time_at_the_end() {
    let (appends, mut rx) = Appends::new();
    let start = Instant::now();
    let recorder = Recorder::start(names(), policy(false), appends, Default::default());
    recorder.resize((120, 40));
    let text = "héllo ✓\r\n".as_bytes();
    let cut = text.iter().position(|b| *b == 0xc3).unwrap() + 1; // inside "é"
    recorder.output(&text[..cut]);
    tokio::time::sleep(Duration::from_millis(200)).await;
    recorder.output(&text[cut..]);
    recorder.input(b"secret\r"); // not kept: input is off
    tokio::time::sleep(Duration::from_millis(300)).await;
    recorder.resize((100, 30));
    let first = next_append(&mut rx).await;
    assert_eq!(
        start.elapsed(),
        Duration::from_secs(1),
        "at the flush interval"
    );
    assert_eq!(
        (
            first.session_id.as_str(),
            first.channel_id.as_str(),
            first.instance_id.as_str()
        ),
        ("s-1", "c-1", "i-1")
    );
    assert_eq!((first.offset, first.last), (0, false));
    let cast = lines(&first.data);
    assert_eq!(cast[0]["version"], 2);
    assert_eq!(
        (cast[0]["width"].as_u64(), cast[0]["height"].as_u64()),
        (Some(120), Some(40))
    );
    assert_eq!(cast[0]["title"], "s-1 c-1");
    assert_eq!(
        cast[1],
        json!([0.0, "o", "h"]),
        "the cut \"é\" waits for its second byte"
    );
    assert_eq!(cast[2], json!([0.2, "o", "éllo ✓\r\n"]));
    assert_eq!(cast[3], json!([0.5, "r", "100x30"]));
    assert_eq!(cast.len(), 4, "no input without --record-input");
    // Nothing new: no append at the next tick; the end appends the rest, marked last.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    recorder.output(b"bye\r\n");
    drop(recorder);
    let last = next_append(&mut rx).await;
    assert_eq!(start.elapsed(), Duration::from_millis(2500), "at once");
    assert_eq!((last.offset, last.last), (first.data.len() as u64, true));
    assert_eq!(lines(&last.data), vec![json!([2.5, "o", "bye\r\n"])]);
    assert!(rx.recv().await.is_none(), "the recorder is done");
}

#[tokio::test(start_paused = true)]
async fn input_is_recorded_only_when_asked_for() {
    let (appends, mut rx) = Appends::new();
    let recorder = Recorder::start(names(), policy(true), appends, Default::default());
    recorder.input(b"ls\r");
    recorder.output(b"file\r\n");
    drop(recorder);
    let only = next_append(&mut rx).await;
    assert!(only.last);
    let cast = lines(&only.data);
    assert_eq!(
        (cast[0]["width"].as_u64(), cast[0]["height"].as_u64()),
        (Some(80), Some(24))
    );
    assert_eq!(cast[1], json!([0.0, "i", "ls\r"]));
    assert_eq!(cast[2], json!([0.0, "o", "file\r\n"]));
}

#[tokio::test(start_paused = true)]
async fn a_connection_that_printed_nothing_or_turned_out_encrypted_appends_nothing() {
    let (appends, mut rx) = Appends::new();
    let quiet = Recorder::start(names(), policy(false), appends.clone(), Default::default());
    quiet.resize((100, 30));
    tokio::time::sleep(Duration::from_secs(5)).await;
    drop(quiet);
    let encrypted = Recorder::start(names(), policy(true), appends, Default::default());
    encrypted.encrypted();
    encrypted.output(b"\x17\x03ciphertext");
    tokio::time::sleep(Duration::from_secs(5)).await;
    drop(encrypted);
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert!(rx.recv().await.is_none(), "no append at all");
}

#[tokio::test(start_paused = true)]
async fn an_append_without_answer_is_sent_again_unchanged() {
    let (appends, mut rx) = Appends::new();
    appends.failing.store(2, Ordering::Relaxed);
    let recorder = Recorder::start(names(), policy(false), appends.clone(), Default::default());
    recorder.output(b"one\r\n");
    let failed = next_append(&mut rx).await;
    recorder.output(b"two\r\n");
    let again = next_append(&mut rx).await;
    assert_eq!(again, failed, "the same offset and data");
    let third = next_append(&mut rx).await;
    assert_eq!(third, failed, "until it is taken");
    let next = next_append(&mut rx).await;
    assert_eq!(next.offset, failed.data.len() as u64);
    assert_eq!(lines(&next.data)[0][2], "two\r\n");
    // At the end the control plane is gone for good: a bounded number of tries, then nothing.
    appends.failing.store(u32::MAX, Ordering::Relaxed);
    drop(appends);
    recorder.output(b"three\r\n");
    drop(recorder);
    for _ in 0..FINAL_ATTEMPTS {
        let last = next_append(&mut rx).await;
        assert!(last.last);
    }
    assert!(rx.recv().await.is_none(), "given up");
}
