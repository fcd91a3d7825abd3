//! The clients of the STS tests: a signer that adds an STS credential's SecurityToken to V1
//! and V3 calls of any version (the common client signs ECS calls only), and a lab whose admin
//! makes RAM users and roles through RAM's own actions.

use axt_proto::openapi::{v1, v3, Credentials, Params, RAM_VERSION, STS_VERSION};
use serde_json::{json, Value};

use crate::common::*;

/// Allows everything: the users and roles here are authorized by RAM once the hook is on.
const ALLOW_ALL: &str =
    r#"{"Version":"1","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;

/// A call's parameters.
pub type Pairs<'a> = &'a [(&'a str, &'a str)];

/// Signs calls with a key and, for STS credentials, its SecurityToken.
pub struct Signer {
    pub client: Client,
    pub token: Option<String>,
}

impl Signer {
    pub fn of(client: &Client) -> Self {
        Self {
            client: client.clone(),
            token: None,
        }
    }

    /// The temporary credentials of an AssumeRole answer.
    pub fn sts(plane: &TestPlane, answer: &Value) -> Self {
        let c = &answer["Credentials"];
        let text = |k: &str| c[k].as_str().unwrap().to_owned();
        Self {
            client: Client {
                key: text("AccessKeyId"),
                secret: text("AccessKeySecret"),
                ..plane.client()
            },
            token: Some(text("SecurityToken")),
        }
    }

    pub fn with_token(&self, token: Option<&str>) -> Self {
        Self {
            client: self.client.clone(),
            token: token.map(str::to_owned),
        }
    }

    /// A V1 call of `version`, the SecurityToken a signed parameter.
    pub async fn v1(&self, version: &str, action: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let mut p = params(pairs);
        p.insert("Action".into(), action.into());
        p.insert("Version".into(), version.into());
        if let Some(token) = &self.token {
            p.insert("SecurityToken".into(), token.clone());
        }
        let creds = Credentials {
            access_key_id: &self.client.key,
            secret: &self.client.secret,
        };
        v1::sign_request("POST", &mut p, creds, &now(), &nonce());
        self.client.send_query(reqwest::Method::POST, &p, &[]).await
    }

    /// A V3 call of `version`, the SecurityToken the signed `x-acs-security-token` header.
    pub async fn v3(&self, version: &str, action: &str, pairs: &[(&str, &str)]) -> (u16, Value) {
        let p: Params = params(pairs);
        let mut headers: Vec<(String, String)> = vec![
            ("host".into(), self.client.addr.to_string()),
            ("x-acs-action".into(), action.into()),
            ("x-acs-content-sha256".into(), v3::EMPTY_BODY_SHA256.into()),
            ("x-acs-date".into(), now()),
            ("x-acs-signature-nonce".into(), nonce()),
            ("x-acs-version".into(), version.into()),
        ];
        if let Some(token) = &self.token {
            headers.push(("x-acs-security-token".into(), token.clone()));
        }
        headers.sort();
        let signed: Vec<String> = headers.iter().map(|(n, _)| n.clone()).collect();
        let request =
            v3::canonical_request("POST", "/", &p, &headers, &signed, v3::EMPTY_BODY_SHA256);
        let signature = v3::sign(&self.client.secret, &v3::string_to_sign(&request));
        headers.push((
            "Authorization".into(),
            format!(
                "{} Credential={},SignedHeaders={},Signature={signature}",
                v3::ALGORITHM,
                self.client.key,
                signed.join(";")
            ),
        ));
        self.client
            .send_query(reqwest::Method::POST, &p, &headers)
            .await
    }

    /// GetCallerIdentity, V1 and V3, which must agree; returns the answer.
    pub async fn identity(&self) -> Value {
        let (s1, b1) = self.v1(STS_VERSION, "GetCallerIdentity", &[]).await;
        let (s3, b3) = self.v3(STS_VERSION, "GetCallerIdentity", &[]).await;
        assert_eq!((s1, s3), (200, 200), "{b1} {b3}");
        for field in [
            "AccountId",
            "Arn",
            "IdentityType",
            "PrincipalId",
            "UserId",
            "RoleId",
        ] {
            assert_eq!(b1[field], b3[field], "{field}");
        }
        b1
    }

    pub async fn assume(&self, pairs: &[(&str, &str)]) -> (u16, Value) {
        self.v1(STS_VERSION, "AssumeRole", pairs).await
    }
}

/// The lab: a plane, its admin account, and the admin's RAM calls.
pub struct Lab {
    pub plane: TestPlane,
    pub account: String,
    admin: Signer,
}

impl Lab {
    pub async fn start() -> Self {
        let plane = TestPlane::start(&[]).await;
        let account = plane.shared.store.admin_account().await.unwrap();
        let admin = Signer::of(&plane.client());
        Self {
            plane,
            account,
            admin,
        }
    }

    /// A RAM call by the admin that must succeed.
    pub async fn ram(&self, action: &str, pairs: &[(&str, &str)]) -> Value {
        let (status, body) = self.admin.v1(RAM_VERSION, action, pairs).await;
        assert_eq!(status, 200, "{action}: {body}");
        body
    }

    /// A RAM user with an AccessKey and a policy that allows everything.
    pub async fn user(&self, name: &str) -> Signer {
        self.ram("CreateUser", &[("UserName", name)]).await;
        let key = self.ram("CreateAccessKey", &[("UserName", name)]).await;
        let text = |k: &str| key["AccessKey"][k].as_str().unwrap().to_owned();
        self.allow_all("User", name).await;
        Signer::of(&Client {
            key: text("AccessKeyId"),
            secret: text("AccessKeySecret"),
            ..self.plane.client()
        })
    }

    /// A role trusting the `principals` (`RAM` ARNs), allowed everything; returns its RoleId.
    pub async fn role(&self, name: &str, principals: &[String]) -> String {
        let trust = json!({
            "Version": "1",
            "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                           "Principal": {"RAM": principals}}],
        });
        let pairs = [
            ("RoleName", name),
            ("AssumeRolePolicyDocument", &trust.to_string()),
        ];
        let role = self.ram("CreateRole", &pairs).await;
        self.allow_all("Role", name).await;
        role["Role"]["RoleId"].as_str().unwrap().to_owned()
    }

    /// Attaches a custom policy allowing everything: the users and roles here are authorized
    /// by RAM once the authorization hook is on.
    pub async fn allow_all(&self, kind: &str, name: &str) {
        let policy = format!("AllowAll-{name}");
        let document = ("PolicyDocument", ALLOW_ALL);
        self.ram("CreatePolicy", &[("PolicyName", &policy), document])
            .await;
        let pairs = [
            (format!("{kind}Name"), name),
            ("PolicyType".into(), "Custom"),
            ("PolicyName".into(), &policy),
        ];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (k.as_str(), *v)).collect();
        self.ram(&format!("AttachPolicyTo{kind}"), &pairs).await;
    }

    pub fn root(&self) -> String {
        format!("acs:ram::{}:root", self.account)
    }

    pub fn role_arn(&self, name: &str) -> String {
        format!("acs:ram::{}:role/{name}", self.account)
    }

    /// Runs SQL on the plane's database, beside the plane's own connections.
    pub async fn sql(&self, statement: &str, bind: &str) {
        let path = self.plane.dir.path().join("control-plane.db");
        let url = format!("sqlite://{}", path.display());
        let pool = sqlx::SqlitePool::connect(&url).await.unwrap();
        sqlx::query(statement)
            .bind(bind)
            .execute(&pool)
            .await
            .unwrap();
        pool.close().await;
    }
}
