//! `axt console` against the real stack: a control plane and a gateway on port 0 and, for the
//! terminal, the real `axt-agent` with a real shell. The console is the real `axt` binary on
//! port 0 (found through `--url-file`), spoken to as a browser would: JSON over HTTP with the
//! cookie, the CSRF header and the page's Origin, and WebSockets carrying client frames
//! ([`harness`], [`frames`]).

#[path = "console/frames.rs"]
mod frames;
#[path = "console/harness.rs"]
mod harness;

use axt_e2e::{Stack, KEY_ID, SECRET};
use axt_proto::client_frame::ClientMessageType;
use futures_util::StreamExt as _;
use reqwest::{header, Method};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::{self, Message};

use frames::{next_frame, read_until, send, Client102};
use harness::{Console, PATIENCE};

#[tokio::test(flavor = "multi_thread")]
async fn signing_in_calling_and_signing_out() {
    let stack = Stack::start(&[], &[]).await;
    let console = Console::start(&stack).await;

    // Every answer carries the security headers, the page's and the API's.
    for path in ["/", "/api/me", "/assets/no-such-file.js"] {
        let (_, headers, _) = console.send(Method::GET, path, None, None, None).await;
        let header = |name: &str| headers.get(name).map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(
            header("content-security-policy").as_deref(),
            Some(
                "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; img-src 'self' data:; \
                 style-src 'self' 'unsafe-inline'"
            ),
            "{path}"
        );
        assert_eq!(header("x-frame-options").as_deref(), Some("DENY"));
        assert_eq!(header("referrer-policy").as_deref(), Some("no-referrer"));
        assert_eq!(header("x-content-type-options").as_deref(), Some("nosniff"));
    }
    // The app and its modules, from the binary.
    for (path, kind) in [
        ("/", "text/html; charset=utf-8"),
        ("/assets/app.js", "text/javascript; charset=utf-8"),
    ] {
        let (status, headers, _) = console.send(Method::GET, path, None, None, None).await;
        assert_eq!(status, 200, "{path}");
        assert_eq!(headers[header::CONTENT_TYPE], kind, "{path}");
    }
    let (status, _, body) = console.send(Method::GET, "/api/me", None, None, None).await;
    assert_eq!(
        (status.as_u16(), &body["Code"]),
        (401, &json!("Console.NotSignedIn"))
    );
    let (status, _, body) = console
        .send(Method::GET, "/api/nothing", None, None, None)
        .await;
    assert_eq!(
        (status.as_u16(), &body["Code"]),
        (404, &json!("Console.NotFound"))
    );

    // A wrong key: 401 with the service's own error, and no cookie.
    let (status, cookie, body) = console.sign_in_raw(KEY_ID, "not-the-secret").await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["Code"], "SignatureDoesNotMatch", "{body}");
    assert!(cookie.is_none());
    let (status, _, body) = console.sign_in_raw("LTAInoSuchKey", "x").await;
    assert_eq!(status, 401, "{body}");
    // Another site's page cannot sign in (nor do anything else that changes state).
    let response = console
        .http
        .post(format!("{}/api/signin", console.origin))
        .header(header::ORIGIN, "http://evil.test")
        .json(&json!({"accessKeyId": KEY_ID, "accessKeySecret": SECRET}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 403);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["Code"], "Console.BadOrigin");

    // The admin: a cookie the page's scripts cannot read, sent to this site only.
    let (status, set_cookie, body) = console.sign_in_raw(KEY_ID, SECRET).await;
    assert_eq!(status, 200, "{body}");
    let set_cookie = set_cookie.unwrap();
    for flag in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(set_cookie.contains(flag), "{set_cookie}");
    }
    assert!(body["csrf"].as_str().unwrap().len() >= 22, "{body}");
    assert!(
        body["principal"]["arn"]
            .as_str()
            .unwrap()
            .ends_with(":root"),
        "{body}"
    );
    let admin = console.sign_in(KEY_ID, SECRET).await;
    let (status, _, me) = console
        .send(Method::GET, "/api/me", Some(&admin), None, None)
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        (&me["principal"], &me["csrf"]),
        (&admin.principal, &json!(admin.csrf))
    );

    // Every POST needs the session's CSRF token.
    let call = json!({"product": "ecs", "action": "DescribeInstances", "params": {}});
    for csrf in ["", "not-the-token"] {
        let request = console
            .http
            .post(format!("{}/api/call", console.origin))
            .header(header::ORIGIN, &console.origin)
            .header(header::COOKIE, format!("axt_console={}", admin.cookie));
        let request = match csrf {
            "" => request,
            wrong => request.header("x-axt-csrf", wrong),
        };
        let response = request.json(&call).send().await.unwrap();
        assert_eq!(response.status(), 403, "csrf {csrf:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["Code"], "Console.CsrfMismatch");
    }

    // Calls pass through: what the control plane answered, as it answered.
    let (status, run) = console.call(&admin, "ecs", "RunInstances", json!({})).await;
    assert_eq!(status, 200, "{run}");
    let instance = run["InstanceIdSets"]["InstanceIdSet"][0].as_str().unwrap();
    let (status, listed) = console
        .call(&admin, "ecs", "DescribeInstances", json!({}))
        .await;
    assert_eq!(status, 200, "{listed}");
    assert!(listed["RequestId"].is_string(), "{listed}");
    assert_eq!(
        listed["Instances"]["Instance"][0]["InstanceId"], instance,
        "{listed}"
    );

    // A RAM user without any policy: the denial arrives whole, explanation and all.
    let (status, user) = console
        .call(&admin, "ram", "CreateUser", json!({"UserName": "viewer"}))
        .await;
    assert_eq!(status, 200, "{user}");
    let (_, key) = console
        .call(
            &admin,
            "ram",
            "CreateAccessKey",
            json!({"UserName": "viewer"}),
        )
        .await;
    let key = &key["AccessKey"];
    let viewer = console
        .sign_in(
            key["AccessKeyId"].as_str().unwrap(),
            key["AccessKeySecret"].as_str().unwrap(),
        )
        .await;
    assert_eq!(
        viewer.principal["identityType"], "RAMUser",
        "{}",
        viewer.principal
    );
    let (status, denied) = console
        .call(&viewer, "ecs", "DescribeInstances", json!({}))
        .await;
    assert_eq!(status, 403, "{denied}");
    assert_eq!(denied["Code"], "Forbidden.RAM", "{denied}");
    let detail = &denied["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "ecs:DescribeInstances", "{denied}");
    assert!(detail["NoPermissionType"].is_string(), "{denied}");

    // Sign-out ends that cookie session, and only that one.
    let (status, headers, _) = console
        .send(Method::POST, "/api/signout", Some(&viewer), None, None)
        .await;
    assert_eq!(status, 200);
    let cleared = headers[header::SET_COOKIE].to_str().unwrap();
    assert!(cleared.contains("Max-Age=0"), "{cleared}");
    let (status, _, _) = console
        .send(Method::GET, "/api/me", Some(&viewer), None, None)
        .await;
    assert_eq!(status, 401);
    let (status, body) = console
        .call(&viewer, "ecs", "DescribeInstances", json!({}))
        .await;
    assert_eq!(
        (status.as_u16(), &body["Code"]),
        (401, &json!("Console.NotSignedIn"))
    );
    let (status, _, _) = console
        .send(Method::GET, "/api/me", Some(&admin), None, None)
        .await;
    assert_eq!(status, 200);
    // Nothing secret in its log, even at debug: no key secret, no cookie, no CSRF token.
    let log = console.log();
    for secret in [
        SECRET,
        &admin.cookie,
        &admin.csrf,
        key["AccessKeySecret"].as_str().unwrap(),
    ] {
        assert!(!log.contains(secret), "{log}");
    }
    assert!(log.contains("signed in"), "{log}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_browser_websocket_reaches_a_real_shell_and_only_its_owner_may_open_it() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let console = Console::start(&stack).await;
    let owner = console.sign_in(KEY_ID, SECRET).await;
    let other = console.sign_in(KEY_ID, SECRET).await;

    let start = json!({"instanceId": instance});
    let (status, _, started) = console
        .send(
            Method::POST,
            "/api/sessions",
            Some(&owner),
            None,
            Some(start),
        )
        .await;
    assert_eq!(status, 200, "{started}\n{}", console.log());
    assert_eq!(started["instanceId"], instance);
    assert!(
        started.get("WebSocketUrl").is_none(),
        "the token stays in the console"
    );
    let id = started["sessionId"].as_str().unwrap();
    let path = format!("/ws/session/{id}");

    // Another sign-in, even of the same key, cannot reach it; nor can a page of another site.
    let refused = console.websocket(&path, &console.ws_headers(&other)).await;
    assert_eq!(refused.err(), Some(404));
    let no_origin = [("cookie", format!("axt_console={}", owner.cookie))];
    assert_eq!(console.websocket(&path, &no_origin).await.err(), Some(403));

    // The owner's WebSocket is relayed to the gateway, frames unchanged both ways.
    let mut socket = console
        .websocket(&path, &console.ws_headers(&owner))
        .await
        .unwrap_or_else(|status| panic!("refused with {status}\n{}", console.log()));
    send(&mut socket, 0, b"echo console-$((6*7))\r").await;
    let mut output = Vec::new();
    read_until(&mut socket, &mut output, |out| {
        String::from_utf8_lossy(out).contains("console-42")
    })
    .await;
    send(&mut socket, 1, b"exit\r").await;
    // The shell's end comes back as the gateway sent it: a Status frame, then the close.
    let mut statuses = Vec::new();
    loop {
        match next_frame(&mut socket).await {
            Some(frame) if frame.kind == ClientMessageType::Status => statuses.push(frame.payload),
            Some(_) => {}
            None => break,
        }
    }
    assert!(
        !statuses.is_empty(),
        "no Status before the end\n{}",
        console.log()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_flow_and_the_recording_of_a_session_reach_its_owner() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let console = Console::start(&stack).await;
    let owner = console.sign_in(KEY_ID, SECRET).await;
    let other = console.sign_in(KEY_ID, SECRET).await;
    let start = json!({"instanceId": instance});
    let (status, _, started) = console
        .send(
            Method::POST,
            "/api/sessions",
            Some(&owner),
            None,
            Some(start),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let id = started["sessionId"].as_str().unwrap().to_owned();

    // The flow view listens before the terminal connects, as the page does.
    let events_path = format!("/ws/events/{id}");
    let refused = console
        .websocket(&events_path, &console.ws_headers(&other))
        .await;
    assert_eq!(refused.err(), Some(404));
    let mut events = console
        .websocket(&events_path, &console.ws_headers(&owner))
        .await
        .unwrap_or_else(|status| panic!("refused with {status}\n{}", console.log()));
    let mut socket = console
        .websocket(&format!("/ws/session/{id}"), &console.ws_headers(&owner))
        .await
        .unwrap();
    send(&mut socket, 0, b"echo recorded-$((6*7))\r").await;
    let mut output = Vec::new();
    read_until(&mut socket, &mut output, |out| {
        String::from_utf8_lossy(out).contains("recorded-42")
    })
    .await;
    send(&mut socket, 1, b"exit\r").await;
    while next_frame(&mut socket).await.is_some() {}

    // The steps of the session, then its frames (sizes only: no payloads asked). Typed input
    // may be seen before the agent's data channel opens: the gateway holds it till then.
    let mut kinds: Vec<String> = Vec::new();
    let mut input_seen = false;
    let seen = |kinds: &[String], step: &str| kinds.iter().any(|k| k == step);
    while !(input_seen && seen(&kinds, "kick") && seen(&kinds, "data-channel")) {
        let message = tokio::time::timeout(PATIENCE, events.next())
            .await
            .unwrap_or_else(|_| panic!("events so far: {kinds:?}"))
            .expect("the event stream ended")
            .unwrap();
        let Message::Text(text) = message else {
            continue;
        };
        let event: Value = serde_json::from_str(text.as_str()).unwrap();
        let kind = event["kind"].as_str().unwrap().to_owned();
        if kind == "frame" {
            assert!(event.get("payload").is_none(), "{event}");
            assert!(event["size"].is_u64(), "{event}");
            input_seen |= event["dir"] == "client-to-agent" && event["type"] == "Input";
        }
        kinds.push(kind);
    }
    assert_eq!(kinds[0], "token-check", "{kinds:?}");

    // The connection's recording, listed and played through the console.
    let list = format!("/api/recordings?sessionId={id}");
    let listed = axt_kit::wait::eventually(
        PATIENCE,
        "a complete recording",
        || console.send(Method::GET, &list, Some(&owner), None, None),
        |(_, _, body)| body["Recordings"]["Recording"][0]["Complete"] == true,
    )
    .await
    .2;
    let recording = &listed["Recordings"]["Recording"][0];
    assert_eq!(recording["InstanceId"], instance, "{listed}");
    let connection = recording["ConnectionId"].as_str().unwrap();
    let path = format!("/api/recordings/{id}/{connection}.cast");
    let response = console
        .http
        .get(format!("{}{path}", console.origin))
        .header(header::COOKIE, format!("axt_console={}", owner.cookie))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.headers()[header::CONTENT_TYPE],
        "application/x-asciicast"
    );
    let cast = response.text().await.unwrap();
    let header: Value = serde_json::from_str(cast.lines().next().unwrap()).unwrap();
    assert_eq!(header["version"], 2, "{cast}");
    assert!(cast.contains("recorded-42"), "{cast}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dropped_browser_socket_resumes_and_sign_out_closes_the_relay() {
    let mut stack = Stack::start(&[], &[]).await;
    let instance = stack.agent(&[]).await;
    let console = Console::start(&stack).await;
    let owner = console.sign_in(KEY_ID, SECRET).await;
    let start = json!({"instanceId": instance});
    let (status, _, started) = console
        .send(
            Method::POST,
            "/api/sessions",
            Some(&owner),
            None,
            Some(start),
        )
        .await;
    assert_eq!(status, 200, "{started}");
    let path = format!("/ws/session/{}", started["sessionId"].as_str().unwrap());
    let headers = console.ws_headers(&owner);

    // A 1.02 client, as the page is: it learns its channel from the first frame.
    let mut client = Client102::default();
    let mut socket = console.websocket(&path, &headers).await.unwrap();
    client.take(next_frame(&mut socket).await.unwrap());
    client.input(&mut socket, "echo one-$((1+1))\r").await;
    client.read_until(&mut socket, "one-2").await;

    // The page drops its socket on purpose (close code 4000): the relay drops the gateway's
    // too, without a close frame, so the gateway keeps the connection for the resume.
    socket
        .close(Some(tungstenite::protocol::CloseFrame {
            code: 4000.into(),
            reason: "dropped".into(),
        }))
        .await
        .unwrap();
    while next_frame(&mut socket).await.is_some() {}
    let resume = format!("{path}?channelId={}", client.channel);
    let mut socket = console.websocket(&resume, &headers).await.unwrap();
    client.sync(&mut socket).await;
    client.input(&mut socket, "echo two-$((2+2))\r").await;
    client.read_until(&mut socket, "two-4").await;

    // A channel the gateway does not know: its refusal's Code, in a close the page won't retry.
    let mut refused = console
        .websocket(&format!("{path}?channelId=c-no-such-channel"), &headers)
        .await
        .unwrap();
    let close = loop {
        let message = tokio::time::timeout(PATIENCE, refused.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Close(frame) = message {
            break frame.unwrap();
        }
    };
    assert_eq!(u16::from(close.code), 4403, "{close:?}");
    assert!(!close.reason.contains(' '), "a Code: {close:?}");

    // Signing out ends the console session's relays, saying why.
    let (status, _, _) = console
        .send(Method::POST, "/api/signout", Some(&owner), None, None)
        .await;
    assert_eq!(status, 200);
    let close = loop {
        let message = tokio::time::timeout(PATIENCE, socket.next())
            .await
            .expect("the relay outlived the sign-out")
            .unwrap()
            .unwrap();
        if let Message::Close(frame) = message {
            break frame.unwrap();
        }
    };
    assert_eq!(
        (u16::from(close.code), close.reason.as_str()),
        (4401, "SignedOut")
    );
}
