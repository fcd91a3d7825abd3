//! Settings resolution without the environment: flags (clap has already merged the environment
//! into them) over the profile file over defaults, and the errors a user can meet.

use std::path::Path;

use axt_cli::{
    args::{GlobalArgs, Protocol},
    profile::{Endpoint, ProfileError, Settings},
};

const FILE: &str = r#"{
  "current": "lab",
  "profiles": [
    {"name": "default", "mode": "AK", "access_key_id": "LTAIdefault", "access_key_secret": "s0",
     "region_id": "cn-shanghai"},
    {"name": "lab", "mode": "AK", "access_key_id": "LTAIlab", "access_key_secret": "s1",
     "region_id": "cn-beijing", "axt_ca_cert": "/etc/axt/ca.pem", "language": "en"},
    {"name": "sts", "mode": "StsToken", "access_key_id": "STS.x", "access_key_secret": "s2",
     "sts_token": "tok"},
    {"name": "role", "mode": "RamRoleArn", "access_key_id": "a", "access_key_secret": "b"}
  ],
  "meta_path": ""
}"#;

/// A HOME holding `.aliyun/config.json` with `text`.
fn home_with(text: &str) -> tempfile::TempDir {
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(home.path().join(".aliyun")).unwrap();
    std::fs::write(home.path().join(".aliyun/config.json"), text).unwrap();
    home
}

fn args() -> GlobalArgs {
    GlobalArgs {
        endpoint: "127.0.0.1:8080".into(),
        ..GlobalArgs::default()
    }
}

fn resolve(args: &GlobalArgs, home: &Path) -> Result<Settings, ProfileError> {
    Settings::resolve(args, Some(home))
}

#[test]
fn the_current_profile_fills_in_what_flags_leave_out() {
    let home = home_with(FILE);
    let settings = resolve(&args(), home.path()).unwrap();
    let key = settings.access_key().unwrap();
    assert_eq!((key.id.as_str(), key.secret.as_str()), ("LTAIlab", "s1"));
    assert_eq!(settings.region, "cn-beijing");
    assert_eq!(
        settings.ca_cert.as_deref(),
        Some(Path::new("/etc/axt/ca.pem"))
    );

    let mut flags = args();
    flags.access_key_id = Some("LTAIflag".into());
    flags.region = Some("cn-qingdao".into());
    flags.ca_cert = Some("/tmp/ca.pem".into());
    let settings = resolve(&flags, home.path()).unwrap();
    let key = settings.access_key().unwrap();
    assert_eq!((key.id.as_str(), key.secret.as_str()), ("LTAIflag", "s1"));
    assert_eq!(settings.region, "cn-qingdao");
    assert_eq!(settings.ca_cert.as_deref(), Some(Path::new("/tmp/ca.pem")));
}

#[test]
fn profiles_are_chosen_by_name_and_sts_keys_keep_their_token() {
    let home = home_with(FILE);
    let mut flags = args();
    flags.profile = Some("sts".into());
    let settings = resolve(&flags, home.path()).unwrap();
    assert_eq!(
        settings.access_key().unwrap().sts_token.as_deref(),
        Some("tok")
    );
    assert_eq!(
        settings.region, "cn-hangzhou",
        "no region anywhere: the default"
    );
    // Debug output never shows the secret.
    let shown = format!("{:?}", settings.access_key().unwrap());
    assert!(shown.contains("STS.x") && !shown.contains("s2"), "{shown}");

    flags.profile = Some("nope".into());
    assert!(matches!(
        resolve(&flags, home.path()),
        Err(ProfileError::ProfileNotFound { .. })
    ));
    flags.profile = Some("role".into());
    let err = resolve(&flags, home.path()).unwrap_err();
    assert!(err.to_string().contains("RamRoleArn"), "{err}");

    // Without `current`, the profile called default.
    let home = home_with(&FILE.replace(r#""current": "lab","#, ""));
    let settings = resolve(&args(), home.path()).unwrap();
    assert_eq!(settings.access_key().unwrap().id, "LTAIdefault");
}

#[test]
fn no_file_is_fine_until_a_key_is_needed() {
    let home = tempfile::tempdir().unwrap();
    let settings = resolve(&args(), home.path()).unwrap();
    assert_eq!(settings.region, "cn-hangzhou");
    let err = settings.access_key().unwrap_err().to_string();
    for hint in [
        "--access-key-id",
        "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
        ".aliyun/config.json",
        "--config-path",
    ] {
        assert!(err.contains(hint), "{hint} missing in {err}");
    }
    // A file named explicitly must exist; a broken one is reported as such.
    let mut flags = args();
    flags.config_path = Some(home.path().join("missing.json"));
    assert!(matches!(
        resolve(&flags, home.path()),
        Err(ProfileError::Read { .. })
    ));
    let home = home_with("{ not json");
    assert!(matches!(
        resolve(&args(), home.path()),
        Err(ProfileError::Parse { .. })
    ));
}

#[test]
fn complete_flags_never_read_the_file() {
    let home = home_with("{ not json");
    let mut flags = args();
    flags.access_key_id = Some("k".into());
    flags.access_key_secret = Some("s".into());
    flags.region = Some("cn-beijing".into());
    flags.ca_cert = Some("/tmp/ca.pem".into());
    assert!(resolve(&flags, home.path()).is_ok());
}

#[test]
fn regions_and_endpoints_are_checked_and_read_kindly() {
    let home = tempfile::tempdir().unwrap();
    let mut flags = args();
    flags.region = Some("cn-hangzhou/../x".into());
    assert!(matches!(
        resolve(&flags, home.path()),
        Err(ProfileError::InvalidRegion(_))
    ));
    let endpoint = Endpoint::parse("https://ecs.lab.test:8443/", Protocol::Http);
    assert_eq!(endpoint.url(), "https://ecs.lab.test:8443/");
    assert_eq!(
        Endpoint::parse("127.0.0.1:8080", Protocol::Http).url(),
        "http://127.0.0.1:8080/"
    );
}
