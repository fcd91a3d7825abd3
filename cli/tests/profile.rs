//! Settings resolution without the environment: flags (clap has already merged the environment
//! into them) over the profile file over defaults — except that a profile named with --profile
//! brings its own key — the three modes (AK, StsToken, RamRoleArn), and the errors a user can
//! meet.

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
    {"name": "role", "mode": "RamRoleArn", "access_key_id": "LTAIsource", "access_key_secret": "b",
     "ram_role_arn": "acs:ram::1234567890123456:role/lab-admin-role", "ram_session_name": "me",
     "expired_seconds": 900, "sts_region": "cn-hangzhou", "region_id": "cn-beijing"},
    {"name": "role-defaults", "access_key_id": "LTAIsource", "access_key_secret": "b",
     "ram_role_arn": "acs:ram::1234567890123456:role/r", "external_id": "ext"},
    {"name": "role-without-arn", "mode": "RamRoleArn", "access_key_id": "a",
     "access_key_secret": "b"},
    {"name": "ecs", "mode": "EcsRamRole", "ram_role_name": "r"}
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
    flags.profile = Some("ecs".into());
    let err = resolve(&flags, home.path()).unwrap_err();
    assert!(
        matches!(err, ProfileError::UnsupportedMode { .. })
            && err.to_string().contains("RamRoleArn"),
        "{err}"
    );

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

#[test]
fn a_ram_role_arn_profile_assumes_its_role_with_its_own_key() {
    let home = home_with(FILE);
    let mut flags = args();
    flags.profile = Some("role".into());
    let settings = resolve(&flags, home.path()).unwrap();
    let source = settings.access_key().unwrap();
    assert_eq!(
        (source.id.as_str(), source.sts_token.as_deref()),
        ("LTAIsource", None)
    );
    let role = settings.role().expect("a role to assume");
    assert_eq!(role.arn, "acs:ram::1234567890123456:role/lab-admin-role");
    assert_eq!(
        (role.session_name.as_str(), role.duration_seconds),
        ("me", 900)
    );
    let params = role.params();
    assert_eq!(params["RoleArn"], role.arn);
    assert_eq!(params["RoleSessionName"], "me");
    assert_eq!(params["DurationSeconds"], "900");
    assert!(!params.contains_key("ExternalId"));
    assert_eq!(settings.region, "cn-beijing");
    assert!(settings.without_role().role().is_none());

    // No mode: guessed from ram_role_arn, as the aliyun CLI guesses; what is left out gets
    // the SDKs' defaults.
    flags.profile = Some("role-defaults".into());
    let settings = resolve(&flags, home.path()).unwrap();
    let role = settings.role().unwrap();
    assert_eq!(
        role.duration_seconds,
        axt_cli::profile::DEFAULT_ROLE_DURATION
    );
    assert!(
        role.session_name.starts_with("axt-"),
        "{}",
        role.session_name
    );
    assert_eq!(role.params()["ExternalId"], "ext");

    flags.profile = Some("role-without-arn".into());
    let err = resolve(&flags, home.path()).unwrap_err();
    assert!(matches!(err, ProfileError::MissingRoleArn(_)), "{err}");
    assert!(err.to_string().contains("ram_role_arn"), "{err}");

    // AK and StsToken profiles assume nothing.
    assert!(resolve(&args(), home.path()).unwrap().role().is_none());
}

#[test]
fn a_named_profile_brings_its_own_key_over_the_exported_one() {
    let home = home_with(FILE);
    // What a lab shell exports: the admin key.
    let mut flags = args();
    flags.access_key_id = Some("LTAIadmin".into());
    flags.access_key_secret = Some("admin-secret".into());

    // No profile named: the exported key, over the file's current profile.
    let settings = resolve(&flags, home.path()).unwrap();
    assert_eq!(settings.access_key().unwrap().id, "LTAIadmin");

    // --profile lab: that profile's key, whole.
    flags.profile = Some("lab".into());
    let key = resolve(&flags, home.path())
        .unwrap()
        .access_key()
        .unwrap()
        .clone();
    assert_eq!((key.id.as_str(), key.secret.as_str()), ("LTAIlab", "s1"));

    // --profile role: its key assumes its role.
    flags.profile = Some("role".into());
    let settings = resolve(&flags, home.path()).unwrap();
    assert_eq!(settings.access_key().unwrap().id, "LTAIsource");
    assert!(settings.role().is_some());
}
