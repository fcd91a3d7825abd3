//! No value of the control plane that holds a secret — an AccessKey secret, the internal
//! token, the key of the sealed secrets — prints it with `{:?}`, the form that ends up in logs
//! and panic messages. (Tokens and activation codes are never held: only their hashes are.)

use clap::Parser as _;

use crate::{sealing::Sealer, store::AccessKey, Config};

const KEY_SECRET: &str = "AccessKeySecretThatMustNotShow";
const INTERNAL_TOKEN: &str = "internal-token-that-must-not-show";

#[test]
fn the_configuration_shows_no_secret() {
    let config = Config::parse_from([
        "axt-control-plane",
        "--internal-token",
        INTERNAL_TOKEN,
        "--admin-access-key-id",
        "LTAIshown",
        "--admin-access-key-secret",
        KEY_SECRET,
    ]);
    let shown = format!("{config:?}");
    assert!(shown.contains("LTAIshown"), "the id still shows: {shown}");
    for secret in [KEY_SECRET, INTERNAL_TOKEN] {
        assert!(!shown.contains(secret), "{secret} in {shown}");
    }
}

#[test]
fn an_access_key_shows_its_id_not_its_secret() {
    let key = AccessKey {
        id: "LTAIshown".into(),
        secret: KEY_SECRET.into(),
        account_id: "1234567890123456".into(),
        user_id: None,
        enabled: true,
    };
    for shown in [format!("{key:?}"), format!("{key:#?}")] {
        assert!(shown.contains("LTAIshown"), "{shown}");
        assert!(!shown.contains(KEY_SECRET), "{shown}");
    }
}

#[test]
fn the_sealer_shows_no_key_and_a_sealed_value_no_secret() {
    let key = [0x5a; 32];
    let sealer = Sealer::from_key(&key);
    let shown = format!("{sealer:?}");
    assert!(
        !shown.contains(&hex::encode(key)) && !shown.contains("90, 90"),
        "{shown}"
    );
    assert!(!sealer.seal("LTAIshown", KEY_SECRET).contains(KEY_SECRET));
}
