//! An end-to-end encrypted session on the schema-1.02 reconnect and replay path
//! (docs/encryption.md §3 "Replay and reconnect", docs/protocol.md §6.9 and §6.12): the
//! gateway keeps and replays Output frames whose payloads are records it cannot read, and the
//! client decrypts them in counter order.
//!
//! `axt` speaks schema 1.01 only and never reconnects, so the 1.02 client is written here:
//! [`RawClient`] for the framing and its numbers, `axt_proto::e2e` for the exchange and the
//! records — the same pieces `axt` and `axt-agent` run. The agent is the real `axt-agent`.
//!
//! Whether the gateway ever had the plaintext: the in-process gateway of [`Stack`] writes its
//! frame trace through `tracing`, which this test binary has no subscriber to capture (the
//! trace is checked against an encrypted session by `tests/encryption.rs`, whose gateway runs
//! as a process with its log in a file). What is checked here instead: no Output payload the
//! gateway sent, first or replayed, and no file under its data dir (nor the control plane's)
//! holds a marker that the client decrypts from those very payloads.

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use axt_e2e::{client::RawClient, Stack};
use axt_proto::{
    client_frame::{ClientFrame, ClientMessageType},
    e2e::{
        self,
        authenticated::{verify_transcript, Handshake, Keys, X25519KeyPair},
        exchange::{self, ClientKeyExchange, Message},
        record::{Direction, Inner, Opener, Sealer, COUNTER_LEN},
        Mode, Suite, DEFAULT_KEY_EXCHANGE_TYPE,
    },
    status::ChannelState,
};

const LIMIT: Duration = Duration::from_secs(20);
const KEY_EXCHANGE: ClientMessageType = ClientMessageType::Other(DEFAULT_KEY_EXCHANGE_TYPE);
const CLOSED: u8 = ChannelState::Closed as u8;

/// A text no session prints by chance.
fn marker() -> String {
    format!("mk{}", &uuid::Uuid::new_v4().simple().to_string()[..12])
}

/// The counter a record carries in the clear.
fn counter_of(record: &[u8]) -> u64 {
    let mut head = [0u8; COUNTER_LEN];
    head.copy_from_slice(&record[..COUNTER_LEN]);
    u64::from_be_bytes(head)
}

/// The client's receiving end across all its sockets: the 1.02 output numbers and the records
/// they carry, opened in order.
struct Screen {
    keys: Keys,
    channel_id: String,
    opener: Opener,
    /// The highest output number taken in order: what the client acknowledges and names in
    /// its Sync.
    have: u32,
    /// What the shell printed, decrypted.
    plain: Vec<u8>,
    /// The payload of every non-empty Output taken, by output number.
    frames: BTreeMap<u32, Vec<u8>>,
    /// Records received again and discarded as duplicates by the opener.
    duplicates: usize,
    /// Output numbers that came ahead of the next one due (live output overtaking a replay).
    skipped: Vec<u32>,
    /// Every non-empty Output payload received, as it came.
    raw: Vec<Vec<u8>>,
    /// The last input number the gateway acknowledged in an Output.
    acked_input: u32,
    /// The agent's sealed Close record, if it sent one.
    closed: Option<String>,
}

impl Screen {
    fn new(keys: &Keys, channel_id: &str) -> Self {
        Self {
            keys: keys.clone(),
            channel_id: channel_id.to_owned(),
            opener: Opener::new(keys, Direction::AgentToClient, channel_id),
            have: 0,
            plain: Vec::new(),
            frames: BTreeMap::new(),
            duplicates: 0,
            skipped: Vec::new(),
            raw: Vec::new(),
            acked_input: 0,
            closed: None,
        }
    }

    /// A second screen that has opened everything this one has, to read a socket the client
    /// is about to lose without advancing this one.
    fn fork(&self) -> Self {
        let mut fork = Self::new(&self.keys, &self.channel_id);
        for record in self.frames.values() {
            assert!(matches!(fork.opener.open(record), Ok(Some(_))));
        }
        fork.have = self.have;
        fork.frames = self.frames.clone();
        fork
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.plain).into_owned()
    }

    /// Takes one frame. `ahead_allowed`: after a reconnect, live output may overtake the
    /// replay the client asked for; on a connection that never broke, a skipped number is a
    /// gap.
    fn take(&mut self, frame: &ClientFrame, ahead_allowed: bool) {
        if frame.kind != ClientMessageType::Output || frame.output_seq() == 0 {
            // Key-exchange, Status and the early empty Output take no output number.
            return;
        }
        let n = frame.output_seq();
        self.acked_input = self.acked_input.max(frame.input_seq());
        let payload = &frame.payload;
        if !payload.is_empty() {
            self.raw.push(payload.clone());
        }
        if n <= self.have {
            // Output the client has: sent again, it must be the same ciphertext, and its
            // record a duplicate, discarded unread — never an error.
            if payload.is_empty() {
                return;
            }
            assert_eq!(
                self.frames.get(&n),
                Some(payload),
                "output {n} came again with another payload"
            );
            match self.opener.open(payload) {
                Ok(None) => self.duplicates += 1,
                other => panic!(
                    "output {n} (record {}) came again and opened as {other:?}",
                    counter_of(payload)
                ),
            }
            return;
        }
        if n > self.have + 1 {
            assert!(
                ahead_allowed,
                "output {n} came after output {}: the gateway skipped a number",
                self.have
            );
            self.skipped.push(n);
            return;
        }
        self.have = n;
        if payload.is_empty() {
            return; // a keep-alive: never a record
        }
        let counter = counter_of(payload);
        assert_eq!(
            counter,
            self.opener.next_counter(),
            "output {n} carries record {counter} where record {} was due",
            self.opener.next_counter()
        );
        match self.opener.open(payload) {
            Ok(Some(Inner::Data(bytes))) => self.plain.extend_from_slice(&bytes),
            Ok(Some(Inner::Close(reason))) => self.closed = Some(reason),
            other => panic!("output {n} (record {counter}) opened as {other:?}"),
        }
        self.frames.insert(n, payload.clone());
    }

    /// Reads `client` until the decrypted output contains `needle`, for at most [`LIMIT`].
    async fn read_until(&mut self, client: &mut RawClient, needle: &str, ahead_allowed: bool) {
        let deadline = tokio::time::Instant::now() + LIMIT;
        while !self.text().contains(needle) {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let frame = client.next_frame(left).await.unwrap_or_else(|| {
                panic!(
                    "{needle:?} never came (output numbers taken up to {}, skipped {:?}); \
                     statuses {:?}; output so far:\n{}",
                    self.have,
                    self.skipped,
                    client.statuses,
                    self.text()
                )
            });
            // RawClient acknowledges the highest number it saw; this client only what it
            // took in order.
            client.last_output = self.have;
            if frame.kind == ClientMessageType::Status && frame.payload.first() == Some(&CLOSED) {
                panic!(
                    "the session closed waiting for {needle:?}: {}; output so far:\n{}",
                    String::from_utf8_lossy(&frame.payload[1..]),
                    self.text()
                );
            }
            self.take(&frame, ahead_allowed);
        }
    }
}

/// The next key-exchange message from the agent, and the channel id its frame names. The
/// frame must carry no 1.02 numbers (§6.12); nothing may be printed before the exchange, but
/// an empty Output may come (axt-agent's readiness, docs/encryption.md §6): numbered output,
/// counted in `numbered`, which must go on with no gap.
async fn next_key_exchange(client: &mut RawClient, numbered: &mut u32) -> (String, Message) {
    loop {
        let frame = client
            .next_frame(LIMIT)
            .await
            .expect("the agent's key-exchange message never came");
        match frame.kind {
            KEY_EXCHANGE => {
                assert_eq!(
                    (frame.input_seq(), frame.output_seq()),
                    (0, 0),
                    "a key-exchange frame took 1.02 numbers"
                );
                let message = Message::decode(&frame.payload).unwrap();
                if let Message::KeyExchangeError(error) = message {
                    panic!("the agent refused the exchange: {error:?}");
                }
                return (frame.channel_id, message);
            }
            ClientMessageType::Output => {
                assert!(
                    frame.payload.is_empty(),
                    "output before the key exchange finished"
                );
                let n = frame.output_seq();
                if n != 0 {
                    assert_eq!(n, *numbered + 1, "output numbers during the exchange");
                    *numbered = n;
                }
            }
            ClientMessageType::Status => assert_ne!(
                frame.payload.first(),
                Some(&CLOSED),
                "the session closed during the key exchange: {:?}",
                String::from_utf8_lossy(&frame.payload)
            ),
            _ => {}
        }
    }
}

/// Runs the authenticated exchange by hand over key-exchange frames, as `axt` does: returns
/// the session's keys, its channel id and the output number reached meanwhile, once the
/// agent's key share verifies with the identity key the control plane vouched for.
async fn key_exchange(
    client: &mut RawClient,
    instance: &str,
    agent_key: &str,
) -> (Keys, String, u32) {
    let mut numbered = 0;
    let client_random = e2e::random_bytes::<32>();
    let hello = exchange::client_hello(Mode::Auto, e2e::random_bytes(), Some(client_random));
    assert_eq!(hello.cipher_suite, e2e::COMPAT_ECDHE);
    assert!(hello.offers_authenticated());
    client
        .send(KEY_EXCHANGE, Message::from(hello.clone()).encode())
        .await;
    let Message::AgentHello(answer) = next_key_exchange(client, &mut numbered).await.1 else {
        panic!("AgentHello was due");
    };
    assert_eq!(answer.accepted_suite(&hello), Ok(Suite::Authenticated));
    let own = X25519KeyPair::generate();
    let share = ClientKeyExchange::authenticated(own.public(), None);
    client
        .send(KEY_EXCHANGE, Message::from(share).encode())
        .await;
    let (channel_id, theirs) = next_key_exchange(client, &mut numbered).await;
    let Message::AgentKeyExchange(theirs) = theirs else {
        panic!("AgentKeyExchange was due");
    };
    assert_eq!(channel_id, client.channel_id);
    let agent_pub: [u8; 32] = theirs.agent_pub.unwrap().try_into().unwrap();
    let handshake = Handshake {
        channel_id: &channel_id,
        instance_id: instance,
        client_random,
        agent_random: answer.agent_random.unwrap(),
        client_pub: own.public(),
        agent_pub,
        kms_plaintext: None,
    };
    verify_transcript(
        agent_key,
        &handshake.transcript(),
        &theirs.signature.unwrap(),
    )
    .expect("the agent's key exchange is signed by the instance's identity key");
    let keys = handshake.keys(&own.shared(&agent_pub).unwrap());
    (keys, channel_id, numbered)
}

/// Every file below `dir`.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    entries
        .flatten()
        .flat_map(|entry| match entry.file_type() {
            Ok(kind) if kind.is_dir() => files_under(&entry.path()),
            _ => vec![entry.path()],
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &str) -> bool {
    haystack
        .windows(needle.len())
        .any(|w| w == needle.as_bytes())
}

#[tokio::test(flavor = "multi_thread")]
async fn a_1_02_client_decrypts_the_ciphertext_the_gateway_replays_after_a_reconnect() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let started = stack
        .start_session(&[
            ("InstanceId.1", &instance),
            ("EncryptionOptions", r#"{"Enabled":true,"Mode":"Auto"}"#),
        ])
        .await;
    let url = started["WebSocketUrl"].as_str().unwrap().to_owned();
    let agent_key = started["AxtlabAgentPublicKey"].as_str().unwrap().to_owned();
    let marks: Vec<String> = (0..4).map(|_| marker()).collect();

    // The exchange, then the first records: a size, and a line the shell answers.
    let mut client = RawClient::connect(&url, &stack.ca, true).await.unwrap();
    client
        .expect_status(ChannelState::Opened as u8, LIMIT)
        .await;
    let (keys, channel, numbered) = key_exchange(&mut client, &instance, &agent_key).await;
    let mut sealer = Sealer::new(&keys, Direction::ClientToAgent, &channel);
    let mut screen = Screen::new(&keys, &channel);
    screen.have = numbered;
    let mut sent = Vec::new();
    let mut seal = |inner: Inner| {
        let record = sealer.seal(&inner);
        sent.push(record.clone());
        record
    };
    let data = |text: String| Inner::Data(text.into_bytes());
    client
        .send(
            ClientMessageType::Input,
            seal(Inner::Resize {
                cols: 100,
                rows: 30,
            }),
        )
        .await;
    client
        .send(
            ClientMessageType::Input,
            seal(data(format!("echo {}-$((6*7)) $(stty size)\r", marks[0]))),
        )
        .await;
    screen
        .read_until(&mut client, &format!("{}-42 30 100", marks[0]), false)
        .await;
    // The key-exchange frames took no numbers: output was numbered from 1 with no gap (`take`
    // checks every number on a connection that never broke), and the gateway acknowledges
    // inputs by the client's own numbers (checked below).

    // Output the shell prints while the client is away.
    client
        .send(
            ClientMessageType::Input,
            seal(data(format!("sleep 1; echo {}-$((20+5))\r", marks[1]))),
        )
        .await;
    let (seq, had) = (client.seq_sent(), screen.have);
    drop(client); // no close frame: the 1.02 connection is kept for the client's return

    // The event to wait on: the gateway has the away output. A first reconnect reads it (with
    // a screen of its own) and is lost in turn before it acknowledges anything, as a socket
    // lost with frames in flight: what it saw is now kept output that only a replay can bring.
    let resume_url = format!("{url}&channelId={channel}");
    let mut lost = RawClient::connect(&resume_url, &stack.ca, true)
        .await
        .unwrap();
    lost.resume(seq, had, &channel, Vec::new());
    lost.send_numbered(ClientMessageType::Sync, seq, Vec::new())
        .await;
    let mut probe = screen.fork();
    probe
        .read_until(&mut lost, &format!("{}-25", marks[1]), true)
        .await;
    let away: BTreeMap<u32, Vec<u8>> = probe.frames.split_off(&(had + 1));
    assert!(!away.is_empty());
    drop(lost);

    // The reconnect proper: Sync names the last output the client has. It says so twice, as
    // a client that notices a gap again before the replay arrives: the second replay brings
    // records the client already has.
    let mut back = RawClient::connect(&resume_url, &stack.ca, true)
        .await
        .unwrap();
    back.resume(seq, had, &channel, Vec::new());
    for _ in 0..2 {
        back.send_numbered(ClientMessageType::Sync, seq, Vec::new())
            .await;
    }
    screen
        .read_until(&mut back, &format!("{}-25", marks[1]), true)
        .await;

    // Input goes on where it was, counter and number; a resend is applied once.
    let line = seal(data(format!("echo {}-$((3+3))\r", marks[2])));
    back.send(ClientMessageType::Input, line.clone()).await;
    back.send_numbered(ClientMessageType::Input, back.seq_sent(), line)
        .await;
    back.send(
        ClientMessageType::Input,
        seal(data(format!("echo {}-$((4+4))\r", marks[3]))),
    )
    .await;
    screen
        .read_until(&mut back, &format!("{}-8", marks[3]), true)
        .await;
    assert_eq!(
        screen.text().matches(&format!("{}-6", marks[2])).count(),
        1,
        "{}",
        screen.text()
    );
    assert_eq!(
        screen.acked_input,
        back.seq_sent(),
        "the gateway's acknowledgement of inputs"
    );

    // What the replay brought is what the gateway sent first: same numbers, same ciphertext,
    // in the record sequence with no gap; sent again, each record was a duplicate.
    for (n, payload) in &away {
        assert_eq!(
            screen.frames.get(n),
            Some(payload),
            "output {n} was replayed otherwise"
        );
    }
    assert!(
        screen.duplicates >= away.len(),
        "{} duplicates for {} replayed records",
        screen.duplicates,
        away.len()
    );

    // The session ends as any does.
    back.send(ClientMessageType::Input, seal(data("exit\r".into())))
        .await;
    let deadline = tokio::time::Instant::now() + LIMIT;
    loop {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        let frame = back
            .next_frame(left)
            .await
            .expect("the session never ended");
        back.last_output = screen.have;
        if frame.kind == ClientMessageType::Status && frame.payload.first() == Some(&CLOSED) {
            assert_eq!(String::from_utf8_lossy(&frame.payload[1..]), "Exit");
            break;
        }
        screen.take(&frame, false);
    }
    // The agent's last word was a sealed Close, in the same counter sequence (`take` checks).
    assert!(screen.closed.is_some(), "no sealed Close record at the end");

    // The gateway never had the plaintext: not in any payload it relayed, first or replayed,
    // nor in any file it or the control plane wrote.
    let files: Vec<Vec<u8>> = ["gw", "cp"]
        .iter()
        .flat_map(|dir| files_under(&stack.dir.path().join(dir)))
        .map(|file| std::fs::read(file).unwrap_or_default())
        .collect();
    for mark in &marks {
        assert!(contains(&screen.plain, mark), "the check cannot see {mark}");
        let relayed = screen.raw.iter().chain(&probe.raw).chain(&sent);
        for payload in relayed {
            assert!(
                !contains(payload, mark),
                "{mark} crossed the gateway in clear"
            );
        }
        for bytes in &files {
            assert!(!contains(bytes, mark), "{mark} is in the gateway's files");
        }
    }
}
