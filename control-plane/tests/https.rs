//! The OpenAPI over HTTPS on the products' real endpoint names: the real binary with
//! `--https-listen` on port 0, reached by a rustls client that trusts only the lab CA and
//! resolves every `*.aliyuncs.com` name to that port on loopback (nothing leaves the machine).
//! A call on a product's name is that product's; DescribeRegions names the real ECS endpoints;
//! a region the lab does not serve is refused as the real ECS refuses it; the log names the
//! Action of a refused call; SIGTERM stops both listeners.

mod common;

use std::{net::SocketAddr, path::Path, time::Duration};

use axt_kit::process::Supervised;
use axt_proto::openapi::{
    endpoints::api_names, v1, v3, Credentials, Params, API_VERSION, RAM_VERSION, TIMESTAMP_FORMAT,
};
use common::{assert_error, TestPlane, INTERNAL_TOKEN, KEY_ID, REGION, SECRET};
use serde_json::Value;

const REGIONS: &str = "cn-hangzhou,cn-shanghai";
const WAIT: Duration = Duration::from_secs(20);

/// The binary serving plain HTTP and HTTPS on port 0, its CA in a directory of its own.
struct Plane {
    child: Supervised,
    https: SocketAddr,
    plain: SocketAddr,
    client: reqwest::Client,
    _dir: tempfile::TempDir,
}

impl Plane {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (data, ca) = (dir.path().join("cp"), dir.path().join("ca"));
        let mut cmd = axt_kit::process::command(&[], env!("CARGO_BIN_EXE_axt-control-plane"));
        cmd.args(["--listen", "127.0.0.1:0", "--https-listen", "127.0.0.1:0"])
            .args(["--regions", REGIONS, "--internal-token", INTERNAL_TOKEN])
            .args(["--admin-access-key-id", KEY_ID])
            .args(["--admin-access-key-secret", SECRET])
            .arg("--data-dir")
            .arg(&data)
            .arg("--ca-dir")
            .arg(&ca)
            .env("RUST_LOG", "info");
        let mut child =
            Supervised::spawn("control-plane", cmd, &dir.path().join("cp.log")).unwrap();
        // The HTTPS address is written before the plain one, which says the plane is up.
        let read = |file: &str| {
            std::fs::read_to_string(data.join(file))
                .ok()
                .and_then(|a| a.trim().parse::<SocketAddr>().ok())
        };
        let plain = child
            .ready("listening", WAIT, || {
                read(axt_control_plane::LISTEN_ADDR_FILE)
            })
            .await
            .unwrap();
        let https = read(axt_control_plane::https::HTTPS_ADDR_FILE).expect("no https-addr");
        let client = client(&ca, https);
        Self {
            child,
            https,
            plain,
            client,
            _dir: dir,
        }
    }

    /// `https://<name>:<port>/`, which the client resolves to the HTTPS listener.
    fn url(&self, name: &str) -> String {
        format!("https://{name}:{}/", self.https.port())
    }

    /// A V1-signed call on `name` (Version in `pairs`, else ECS's), signed with `secret`.
    async fn call(&self, name: &str, secret: &str, action: &str, pairs: &[(&str, &str)]) -> Reply {
        let mut p = params(pairs);
        p.insert("Action".into(), action.into());
        v1::sign_request("POST", &mut p, creds(secret), &now(), &nonce());
        self.send(&self.url(name), &p, &[]).await
    }

    /// A V3-signed ECS call on `name`: the `host` it signs is the real name with the port.
    async fn call_v3(&self, name: &str, action: &str, pairs: &[(&str, &str)]) -> Reply {
        let p = params(pairs);
        let host = format!("{name}:{}", self.https.port());
        let headers = v3::sign_request("POST", &host, action, &p, creds(SECRET), &now(), &nonce());
        self.send(&self.url(name), &p, &headers).await
    }

    async fn send(&self, url: &str, p: &Params, headers: &[(String, String)]) -> Reply {
        let query: String = form_urlencoded::Serializer::new(String::new())
            .extend_pairs(p.iter())
            .finish();
        let mut req = self.client.post(format!("{url}?{query}"));
        for (name, value) in headers.iter().filter(|(n, _)| n != "host") {
            req = req.header(name, value);
        }
        reply(req.send().await.unwrap()).await
    }
}

type Reply = (u16, Value);

async fn reply(resp: reqwest::Response) -> Reply {
    let status = resp.status().as_u16();
    let text = resp.text().await.unwrap();
    let body = serde_json::from_str(&text).unwrap_or_else(|_| panic!("not JSON: {text}"));
    (status, body)
}

/// A client that trusts only the lab CA of `ca_dir` and resolves every endpoint name of the
/// lab's regions, and `localhost`, to `https`.
fn client(ca_dir: &Path, https: SocketAddr) -> reqwest::Client {
    let ca = std::fs::read(ca_dir.join(axt_kit::tls::CA_FILE)).unwrap();
    let mut builder = reqwest::Client::builder()
        .use_rustls_tls()
        .tls_built_in_root_certs(false)
        .add_root_certificate(reqwest::Certificate::from_pem(&ca).unwrap())
        .no_proxy()
        .timeout(WAIT);
    let regions: Vec<&str> = REGIONS.split(',').collect();
    for name in api_names(&regions)
        .iter()
        .map(String::as_str)
        .chain(["localhost"])
    {
        builder = builder.resolve(name, https);
    }
    builder.build().unwrap()
}

fn params(pairs: &[(&str, &str)]) -> Params {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn creds(secret: &str) -> Credentials<'_> {
    Credentials {
        access_key_id: KEY_ID,
        secret,
    }
}

fn now() -> String {
    chrono::Utc::now().format(TIMESTAMP_FORMAT).to_string()
}

fn nonce() -> String {
    uuid::Uuid::new_v4().simple().to_string()
}

#[tokio::test]
async fn the_openapi_answers_on_the_real_names_over_https() {
    let plane = Plane::start().await;

    // The certificate verifies for every name; an unsigned call is answered by the product
    // whose name it was addressed to.
    let regions: Vec<&str> = REGIONS.split(',').collect();
    for name in api_names(&regions) {
        let resp = plane.client.get(plane.url(&name)).send().await;
        let (status, body) = reply(resp.unwrap_or_else(|e| panic!("{name}: {e:?}"))).await;
        assert_eq!(status, 400, "{name}: {body}");
        let product = name.split(['.', '-']).next().unwrap();
        let host_id = body["HostId"].as_str().unwrap();
        if product != "ecs" {
            assert_eq!(host_id, format!("{product}.aliyuncs.com"), "{name}: {body}");
        }
    }

    // A signed ECS call on ECS's shared name, and a V3 one (which signs the host) on a
    // regional name.
    let (status, body) = plane
        .call(
            "ecs-cn-hangzhou.aliyuncs.com",
            SECRET,
            "DescribeRegions",
            &[],
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let endpoints: Vec<(&str, &str)> = body["Regions"]["Region"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["RegionId"].as_str().unwrap(),
                r["RegionEndpoint"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        endpoints,
        [
            ("cn-hangzhou", "ecs.cn-hangzhou.aliyuncs.com"),
            ("cn-shanghai", "ecs.cn-shanghai.aliyuncs.com")
        ]
    );
    let (status, body) = plane
        .call_v3("ecs.cn-shanghai.aliyuncs.com", "DescribeRegions", &[])
        .await;
    assert_eq!(status, 200, "{body}");

    // RAM on RAM's name; ECS's Version there, and RAM's on ECS's name, are versions those
    // endpoints do not have.
    let ram = [("Version", RAM_VERSION)];
    let (status, body) = plane
        .call("ram.aliyuncs.com", SECRET, "ListUsers", &ram)
        .await;
    assert_eq!(status, 200, "{body}");
    let wrong = plane
        .call("ram.aliyuncs.com", SECRET, "DescribeRegions", &[])
        .await;
    assert_error(&wrong, 400, "InvalidVersion");
    assert_eq!(wrong.1["HostId"], "ram.aliyuncs.com");
    assert_eq!(
        wrong.1["Message"],
        "Specified parameter Version is not valid."
    );
    let wrong = plane
        .call("ecs.aliyuncs.com", SECRET, "ListUsers", &ram)
        .await;
    assert_error(&wrong, 400, "InvalidVersion");

    // Any other host serves every product by its Version, as the plain listener does.
    for name in ["localhost", "127.0.0.1"] {
        let (status, body) = plane.call(name, SECRET, "ListUsers", &ram).await;
        assert_eq!(status, 200, "{body}");
        let ecs = [("Version", API_VERSION)];
        let (status, body) = plane.call(name, SECRET, "DescribeRegions", &ecs).await;
        assert_eq!(status, 200, "{body}");
    }

    // A region the lab does not serve, for an Action that needs one and for one where it is
    // optional.
    let ecs = "ecs-cn-hangzhou.aliyuncs.com";
    for (action, region) in [
        ("DescribeInstances", "cn-beijing"),
        ("DescribeRegions", "xx-nowhere-1"),
    ] {
        assert_error(
            &plane
                .call(ecs, SECRET, action, &[("RegionId", region)])
                .await,
            404,
            "InvalidRegionId.NotFound",
        );
    }

    // The plain listener serves on.
    let plain = format!("http://{}/", plane.plain);
    let (status, _) = reply(plane.client.get(plain).send().await.unwrap()).await;
    assert_eq!(status, 400);
    stop(plane).await;
}

/// A call refused for its signature is logged with the Action it claimed, and without its
/// signature; SIGTERM then stops both listeners (the process exits only once both served out).
async fn stop(mut plane: Plane) {
    let mut p = params(&[("Action", "DescribeInstances"), ("RegionId", REGION)]);
    v1::sign_request("POST", &mut p, creds("not-the-secret"), &now(), &nonce());
    let signature = p["Signature"].clone();
    let refused = plane
        .send(&plane.url("ecs-cn-hangzhou.aliyuncs.com"), &p, &[])
        .await;
    assert_error(&refused, 400, "SignatureDoesNotMatch");
    let line = plane
        .child
        .line("action=\"DescribeInstances\" signed=false", WAIT)
        .await
        .unwrap();
    assert!(line.contains("SignatureDoesNotMatch"), "{line}");
    let log = std::fs::read_to_string(plane.child.log()).unwrap();
    for secret in [signature.as_str(), SECRET, "not-the-secret"] {
        assert!(!log.contains(secret), "{secret} logged");
    }

    plane.child.terminate();
    let status = plane.child.wait_exit(WAIT).await.unwrap();
    assert!(status.success(), "{status}");
}

/// The Session Manager actions answer RegionId.ApiNotSupported in a region that exists but
/// has no Session Manager; the region's other actions work.
#[tokio::test]
async fn session_actions_are_not_supported_where_sessions_are_not() {
    let plane = TestPlane::start(&["--session-unsupported-regions", "cn-shanghai"]).await;
    let c = plane.client();
    let there = [("RegionId", "cn-shanghai")];
    for (action, extra) in [
        ("StartTerminalSession", ("InstanceId.1", "i-any")),
        ("EndTerminalSession", ("SessionId", "s-any")),
        ("DescribeTerminalSessions", ("MaxResults", "10")),
    ] {
        let got = c.call(action, &[there[0], extra]).await;
        assert_error(&got, 400, "RegionId.ApiNotSupported");
    }
    let (status, body) = c.call("DescribeInstances", &there).await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = c
        .call("DescribeTerminalSessions", &[("RegionId", REGION)])
        .await;
    assert_eq!(status, 200, "{body}");
}
