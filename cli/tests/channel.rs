//! The channel layer on an in-memory WebSocket: the writer's frames byte for byte against the
//! stock client's, the 2048-byte Input split, and the reader's tolerance (text frames, ids,
//! unknown types, pings).

use axt_cli::channel::{self, ChannelError, Event, Outgoing, Status};
use axt_proto::client_frame::{ClientFrame, ClientMessageType};
use futures_util::{SinkExt as _, StreamExt as _};
use tokio_tungstenite::{
    tungstenite::{protocol::Role, Message},
    WebSocketStream,
};

type Ws = WebSocketStream<tokio::io::DuplexStream>;

/// A client (the code under test) and a server (the test) joined in memory.
async fn pair() -> (Ws, Ws) {
    let (a, b) = tokio::io::duplex(64 * 1024);
    (
        WebSocketStream::from_raw_socket(a, Role::Client, None).await,
        WebSocketStream::from_raw_socket(b, Role::Server, None).await,
    )
}

async fn next_frame(server: &mut Ws) -> (Vec<u8>, ClientFrame) {
    let Some(Ok(Message::Binary(bytes))) = server.next().await else {
        panic!("expected a binary message");
    };
    let frame = ClientFrame::decode(&bytes).unwrap();
    (bytes.to_vec(), frame)
}

#[tokio::test]
async fn the_writer_numbers_every_frame_from_one_counter_and_splits_input() {
    let (client, mut server) = pair().await;
    let (mut writer, _reader) = channel::split(client);
    writer
        .send(Outgoing::Resize {
            cols: 100,
            rows: 30,
        })
        .await
        .unwrap();
    writer
        .send(Outgoing::Input(b"echo hi".to_vec()))
        .await
        .unwrap();
    writer
        .send(Outgoing::Input(vec![b'p'; 5000]))
        .await
        .unwrap();
    writer.send(Outgoing::Close).await.unwrap();

    // docs/protocol.md §6.10, with the timestamp left out: Resize 30×100 at seq 0.
    let (bytes, frame) = next_frame(&mut server).await;
    assert_eq!(hex(&bytes[..10]), "02000000312e30310000");
    assert_eq!(hex(&bytes[18..]), "0000000000000000040000001e006400");
    assert_eq!(frame.kind, ClientMessageType::Resize);
    // Input "echo hi" at seq 1.
    let (bytes, _) = next_frame(&mut server).await;
    assert_eq!(hex(&bytes[18..]), "0100000000000000070000006563686f206869");
    // A 5000-byte paste goes out as 2048 + 2048 + 904, as the stock client's does.
    let mut sizes = Vec::new();
    for seq in 2..5 {
        let (_, frame) = next_frame(&mut server).await;
        assert_eq!((frame.kind, frame.seq), (ClientMessageType::Input, seq));
        sizes.push(frame.payload.len());
    }
    assert_eq!(sizes, [2048, 2048, 904]);
    // Close "1" at seq 5.
    let (bytes, frame) = next_frame(&mut server).await;
    assert_eq!(frame.kind, ClientMessageType::Close);
    assert_eq!(hex(&bytes[18..]), "05000000000000000100000031");
}

#[tokio::test]
async fn the_reader_takes_what_the_stock_client_takes() {
    let (client, mut server) = pair().await;
    let (_writer, mut reader) = channel::split(client);
    let frame = |kind, payload: &[u8]| {
        let mut f = ClientFrame::v101(kind, 7, payload.to_vec());
        f.channel_id = "s-example".into(); // gateways may fill the ids; the client reads past them
        f.encode().unwrap()
    };
    server.send(Message::Ping(vec![1].into())).await.unwrap();
    server
        .send(Message::binary(frame(ClientMessageType::Other(9), b"?")))
        .await
        .unwrap();
    // A text message must be UTF-8, so this one's timestamp is made of ASCII bytes.
    let mut as_text = ClientFrame::v101(ClientMessageType::Output, 8, b"as text".to_vec());
    as_text.created_ms = u64::from_le_bytes(*b"AAAAA\0\0\0");
    let text = String::from_utf8(as_text.encode().unwrap()).unwrap();
    server.send(Message::text(text)).await.unwrap();
    server
        .send(Message::binary(frame(ClientMessageType::Output, b"")))
        .await
        .unwrap();
    for status in [
        &b"\x03"[..],
        b"\x07\x01\x90\x00",
        b"\x02no agent",
        b"\x05Exit\0",
        b"",
    ] {
        server
            .send(Message::binary(frame(ClientMessageType::Status, status)))
            .await
            .unwrap();
    }
    server.send(Message::binary(vec![0u8; 26])).await.unwrap();
    server.close(None).await.unwrap();

    let mut events = Vec::new();
    let error = loop {
        match reader.next().await {
            Ok(event) => events.push(event),
            Err(err) => break err,
        }
    };
    assert_eq!(
        events,
        [
            Event::Output(b"as text".to_vec()),
            Event::Output(Vec::new()),
            Event::Status(Status::Other(Some(3))),
            Event::Status(Status::Rate(Some(102_400))),
            Event::Status(Status::Aborted("no agent".into())),
            Event::Status(Status::Closed("Exit".into())),
            Event::Status(Status::Other(None)),
        ]
    );
    assert!(matches!(error, ChannelError::BadFrame(_)), "{error}");
    // The ping was answered while reading.
    assert!(matches!(server.next().await, Some(Ok(Message::Pong(_)))));
}

#[test]
fn status_payloads_never_panic_and_rates_never_divide() {
    assert_eq!(Status::parse(b"\x07"), Status::Rate(None));
    assert_eq!(Status::parse(b"\x07\x00"), Status::Rate(Some(0)));
    assert_eq!(Status::parse(b"\x05"), Status::Closed(String::new()));
    assert_eq!(
        Status::parse(b"\x05\xffX"),
        Status::Closed("\u{fffd}X".into())
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
