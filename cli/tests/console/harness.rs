//! The console under test: the real `axt console` started for a stack, and the requests and
//! WebSockets of a browser signed in to it.

use std::{
    process::Stdio,
    sync::{Arc, Mutex},
    time::Duration,
};

use axt_e2e::{Stack, REGION};
use reqwest::{header, Method, StatusCode};
use serde_json::{json, Value};
use tokio::{
    io::{AsyncBufReadExt as _, BufReader},
    process::{Child, Command},
};
use tokio_tungstenite::tungstenite::{self, client::IntoClientRequest as _};

/// Every wait is bounded by this; nothing sleeps.
pub const PATIENCE: Duration = Duration::from_secs(30);

/// A running `axt console` and an HTTP client for it.
pub struct Console {
    /// `http://127.0.0.1:PORT`: the page's Origin, and the base of every URL.
    pub origin: String,
    pub http: reqwest::Client,
    /// What it logged after its ready line, for failure messages.
    log: Arc<Mutex<String>>,
    _child: Child,
    _home: tempfile::TempDir,
}

/// One browser's sign-in: its cookie and CSRF token.
pub struct Browser {
    pub cookie: String,
    pub csrf: String,
    pub principal: Value,
}

impl Console {
    /// Starts `axt console` for `stack`, with no key of its own: only the lab's endpoint,
    /// region and CA, as `axt console` gets them from a lab shell.
    pub async fn start(stack: &Stack) -> Self {
        let home = tempfile::tempdir().unwrap();
        let url_file = home.path().join("console-url");
        let mut child = Command::new(env!("CARGO_BIN_EXE_axt"))
            .env_clear()
            .env("HOME", home.path())
            .env("ALIBABA_CLOUD_ECS_ENDPOINT", stack.cp_addr.to_string())
            .env("ALIBABA_CLOUD_REGION_ID", REGION)
            .env("AXT_CA_CERT", &stack.ca)
            .env("RUST_LOG", "axt_cli=debug")
            .args(["console", "--listen", "127.0.0.1:0", "--url-file"])
            .arg(&url_file)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .unwrap();
        let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
        let mut before = String::new();
        let printed = tokio::time::timeout(PATIENCE, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Some(url) = line.strip_prefix("console: ") {
                    return url.to_owned();
                }
                before.push_str(&line);
                before.push('\n');
            }
            panic!("axt console exited before it was ready:\n{before}");
        })
        .await
        .expect("axt console never said it was ready");
        let log = Arc::new(Mutex::new(String::new()));
        let keep = log.clone();
        tokio::spawn(async move {
            while let Ok(Some(line)) = lines.next_line().await {
                keep.lock().unwrap().push_str(&(line + "\n"));
            }
        });
        // Written before the line above was printed.
        let written = std::fs::read_to_string(&url_file).unwrap();
        assert_eq!(written, printed);
        assert!(printed.starts_with("http://127.0.0.1:") && printed.ends_with('/'));
        Self {
            origin: printed.trim_end_matches('/').to_owned(),
            http: reqwest::Client::builder()
                .no_proxy()
                .timeout(PATIENCE)
                .build()
                .unwrap(),
            log,
            _child: child,
            _home: home,
        }
    }

    /// A request as the console's page makes it: its Origin, and the browser's cookie and
    /// CSRF token when given.
    pub async fn send(
        &self,
        method: Method,
        path: &str,
        browser: Option<&Browser>,
        csrf: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, reqwest::header::HeaderMap, Value) {
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.origin))
            .header(header::ORIGIN, &self.origin);
        if let Some(browser) = browser {
            request = request.header(header::COOKIE, format!("axt_console={}", browser.cookie));
        }
        if let Some(csrf) = csrf.or(browser.map(|b| b.csrf.as_str())) {
            request = request.header("x-axt-csrf", csrf);
        }
        if let Some(body) = body {
            request = request.json(&body);
        }
        let response = request.send().await.unwrap();
        let (status, headers) = (response.status(), response.headers().clone());
        let text = response.text().await.unwrap();
        let json = serde_json::from_str(&text).unwrap_or(Value::String(text));
        (status, headers, json)
    }

    /// POST /api/signin; the Set-Cookie header and the body.
    pub async fn sign_in_raw(&self, id: &str, secret: &str) -> (StatusCode, Option<String>, Value) {
        let body = json!({"accessKeyId": id, "accessKeySecret": secret});
        let (status, headers, body) = self
            .send(Method::POST, "/api/signin", None, None, Some(body))
            .await;
        let cookie = headers
            .get(header::SET_COOKIE)
            .map(|c| c.to_str().unwrap().to_owned());
        (status, cookie, body)
    }

    pub async fn sign_in(&self, id: &str, secret: &str) -> Browser {
        let (status, set_cookie, body) = self.sign_in_raw(id, secret).await;
        assert_eq!(status, 200, "{body}\n{}", self.log());
        let set_cookie = set_cookie.expect("no Set-Cookie");
        let cookie = set_cookie
            .split(';')
            .next()
            .and_then(|pair| pair.strip_prefix("axt_console="))
            .unwrap()
            .to_owned();
        Browser {
            cookie,
            csrf: body["csrf"].as_str().unwrap().to_owned(),
            principal: body["principal"].clone(),
        }
    }

    /// POST /api/call as `browser`.
    pub async fn call(
        &self,
        browser: &Browser,
        product: &str,
        action: &str,
        params: Value,
    ) -> (StatusCode, Value) {
        let body = json!({"product": product, "action": action, "params": params});
        let (status, _, body) = self
            .send(Method::POST, "/api/call", Some(browser), None, Some(body))
            .await;
        (status, body)
    }

    /// Opens a console WebSocket at `path` with `headers`; the refusal's status otherwise.
    pub async fn websocket(
        &self,
        path: &str,
        headers: &[(&'static str, String)],
    ) -> Result<Socket, u16> {
        let url = format!("{}{path}", self.origin.replacen("http", "ws", 1));
        let mut request = url.into_client_request().unwrap();
        for (name, value) in headers {
            request.headers_mut().insert(*name, value.parse().unwrap());
        }
        let connecting = tokio_tungstenite::connect_async(request);
        match tokio::time::timeout(PATIENCE, connecting).await.unwrap() {
            Ok((socket, _)) => Ok(socket),
            Err(tungstenite::Error::Http(response)) => Err(response.status().as_u16()),
            Err(err) => panic!("{path}: {err}"),
        }
    }

    /// The headers a browser sends on its WebSocket: the cookie and the page's Origin.
    pub fn ws_headers(&self, browser: &Browser) -> Vec<(&'static str, String)> {
        vec![
            ("cookie", format!("axt_console={}", browser.cookie)),
            ("origin", self.origin.clone()),
        ]
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().clone()
    }
}

pub type Socket =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;
