//! The luban test server: the agent surface on 127.0.0.1 port 0 (plain HTTP and
//! WebSockets), every request recorded as an [`Event`] the test waits for.

use std::{
    collections::{HashMap, VecDeque},
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axt_proto::{
    luban::{HeartbeatResponse, RegisterRequest, RegisterResponse, TaskListResponse},
    spec::SessionSpec,
};
use axum::{
    extract::{
        ws::{Message, WebSocket, WebSocketUpgrade},
        Query, State,
    },
    http::HeaderMap,
    response::Response,
    routing::{any, get, post},
    Json, Router,
};
use tokio::sync::mpsc;

use super::{
    data::DataSocket,
    kms::{self, DataKeys},
    WAIT,
};

/// What the agent did.
pub enum Event {
    Registered(RegisterRequest),
    Heartbeat {
        query: HashMap<String, String>,
        headers: HeaderMap,
    },
    SessionList(String),
    Status {
        channel: String,
        status: String,
        code: String,
    },
    Notify(WebSocket),
    Data {
        channel: String,
        socket: WebSocket,
        headers: HeaderMap,
    },
    /// A KMS data key decryption (`/luban/api/v1/kms/decrypt`).
    KmsDecrypt {
        channel: String,
        blob: String,
        headers: HeaderMap,
    },
}

#[derive(Clone)]
pub(super) struct Shared {
    pub(super) events: mpsc::UnboundedSender<Event>,
    specs: Arc<Mutex<HashMap<String, SessionSpec>>>,
    pub(super) data_keys: DataKeys,
}

/// The test server.
pub struct Luban {
    pub addr: SocketAddr,
    events: mpsc::UnboundedReceiver<Event>,
    held: VecDeque<Event>,
    specs: Arc<Mutex<HashMap<String, SessionSpec>>>,
    data_keys: DataKeys,
    server: tokio::task::JoinHandle<()>,
}

impl Drop for Luban {
    fn drop(&mut self) {
        self.server.abort();
    }
}

impl Luban {
    pub async fn start() -> Self {
        let (tx, rx) = mpsc::unbounded_channel();
        let specs = Arc::new(Mutex::new(HashMap::new()));
        let data_keys = DataKeys::default();
        let shared = Shared {
            events: tx,
            specs: specs.clone(),
            data_keys: data_keys.clone(),
        };
        let app = Router::new()
            .route("/luban/api/instance/register", post(on_register))
            .route("/luban/api/heart-beat", get(heartbeat))
            .route("/luban/api/v1/task/list", post(task_list))
            .route("/luban/api/v1/session/list", post(session_list))
            .route("/luban/api/v1/session/status", post(status))
            .route("/luban/notify_server", any(notify))
            .route("/luban/session/backend", any(backend))
            .route("/luban/api/v1/kms/decrypt", post(kms::decrypt))
            .with_state(shared);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self {
            addr,
            events: rx,
            held: VecDeque::new(),
            specs,
            data_keys,
            server,
        }
    }

    /// What session/list answers for `channel`.
    pub fn set_spec(&self, channel: &str, spec: SessionSpec) {
        self.specs.lock().unwrap().insert(channel.into(), spec);
    }

    /// What kms/decrypt answers for `blob`: `plaintext` (base64); other blobs are refused.
    pub fn set_data_key(&self, blob: &str, plaintext: &str) {
        self.data_keys.set(blob, plaintext);
    }

    /// The first event (in arrival order) `pick` accepts; the others stay for later waits.
    pub async fn wait_for<T>(
        &mut self,
        what: &str,
        mut pick: impl FnMut(&Event) -> bool,
        take: impl FnOnce(Event) -> T,
    ) -> T {
        if let Some(i) = self.held.iter().position(&mut pick) {
            return take(self.held.remove(i).unwrap());
        }
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            let event = tokio::time::timeout_at(deadline, self.events.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("server gone");
            if pick(&event) {
                return take(event);
            }
            self.held.push_back(event);
        }
    }

    /// Whether an event `pick` accepts has arrived by now (without waiting for more); it
    /// stays for later waits.
    pub fn seen(&mut self, mut pick: impl FnMut(&Event) -> bool) -> bool {
        while let Ok(event) = self.events.try_recv() {
            self.held.push_back(event);
        }
        self.held.iter().any(&mut pick)
    }

    pub async fn notify_socket(&mut self) -> WebSocket {
        self.wait_for(
            "the kick channel",
            |e| matches!(e, Event::Notify(_)),
            |e| match e {
                Event::Notify(socket) => socket,
                _ => unreachable!(),
            },
        )
        .await
    }

    pub async fn data_socket(&mut self, channel: &str) -> (DataSocket, HeaderMap) {
        let ch = channel.to_owned();
        self.wait_for(
            &format!("the data channel {channel}"),
            |e| matches!(e, Event::Data { channel, .. } if *channel == ch),
            |e| match e {
                Event::Data {
                    socket,
                    headers,
                    channel,
                } => (DataSocket::new(socket, channel), headers),
                _ => unreachable!(),
            },
        )
        .await
    }

    /// The (status, errorcode) reported for `channel`.
    pub async fn status(&mut self, channel: &str) -> (String, String) {
        let ch = channel.to_owned();
        self.wait_for(
            &format!("the status of {channel}"),
            |e| matches!(e, Event::Status { channel, .. } if *channel == ch),
            |e| match e {
                Event::Status { status, code, .. } => (status, code),
                _ => unreachable!(),
            },
        )
        .await
    }
}

async fn on_register(
    State(s): State<Shared>,
    Json(body): Json<RegisterRequest>,
) -> Json<RegisterResponse> {
    let answer = if body.activation_code == "bad" {
        RegisterResponse {
            code: 400,
            err_msg: "bad activation".into(),
            ..Default::default()
        }
    } else {
        RegisterResponse {
            code: 200,
            instance_id: body
                .instance_id
                .clone()
                .unwrap_or_else(|| "mi-test000001".into()),
            ..Default::default()
        }
    };
    let _ = s.events.send(Event::Registered(body));
    Json(answer)
}

async fn heartbeat(
    State(s): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Json<HeartbeatResponse> {
    let _ = s.events.send(Event::Heartbeat { query, headers });
    Json(HeartbeatResponse {
        next_interval: 60_000,
        new_tasks: false,
    })
}

async fn task_list() -> Json<TaskListResponse> {
    Json(TaskListResponse {
        code: 200,
        ..Default::default()
    })
}

async fn session_list(
    State(s): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> Json<TaskListResponse> {
    assert_eq!(headers["content-type"], "application/json; charset=utf-8");
    let channel = query.get("channelId").cloned().unwrap_or_default();
    let spec = s.specs.lock().unwrap().get(&channel).cloned();
    let _ = s.events.send(Event::SessionList(channel));
    Json(TaskListResponse {
        code: 200,
        instance_id: "mi-test000001".into(),
        session: spec.into_iter().collect(),
        ..Default::default()
    })
}

async fn status(
    State(s): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
) -> &'static str {
    assert_eq!(headers["content-type"], "text/plain; charset=utf-8");
    let get = |k: &str| query.get(k).cloned().unwrap_or_default();
    let _ = s.events.send(Event::Status {
        channel: get("channelId"),
        status: get("status"),
        code: get("errorcode"),
    });
    "{\"code\":200}"
}

async fn notify(State(s): State<Shared>, ws: WebSocketUpgrade) -> Response {
    ws.on_upgrade(move |socket| async move {
        let _ = s.events.send(Event::Notify(socket));
    })
}

async fn backend(
    State(s): State<Shared>,
    Query(query): Query<HashMap<String, String>>,
    headers: HeaderMap,
    ws: WebSocketUpgrade,
) -> Response {
    let channel = query.get("channelId").cloned().unwrap_or_default();
    ws.on_upgrade(move |socket| async move {
        let _ = s.events.send(Event::Data {
            channel,
            socket,
            headers,
        });
    })
}
