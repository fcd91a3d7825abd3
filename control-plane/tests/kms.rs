//! KMS over HTTP: a key's lifecycle and the state table's refusals, data keys and Encrypt
//! round-tripping through Decrypt, blobs bound to their key and context, keys held to their
//! region, RAM refusing users without `kms:` permissions, and signature V4.

mod common;
mod kms_support;

use base64::{engine::general_purpose::STANDARD, Engine as _};
use common::*;
use kms_support::*;
use serde_json::json;

#[tokio::test]
async fn a_key_lives_through_its_states() {
    let plane = TestPlane::start(&[]).await;
    let admin = plane.client();
    let created = kms_ok(&admin, "CreateKey", &[("Description", "lab key")]).await;
    let meta = &created["KeyMetadata"];
    let id = meta["KeyId"].as_str().unwrap().to_owned();
    assert!(uuid::Uuid::try_parse(&id).is_ok(), "{id}");
    let account = plane.shared.store.admin_account().await.unwrap();
    // No RegionId (as the SDKs send it): the first of --regions.
    assert_eq!(meta["Arn"], format!("acs:kms:{REGION}:{account}:key/{id}"));
    for (field, value) in [
        ("KeySpec", "Aliyun_AES_256"),
        ("KeyUsage", "ENCRYPT/DECRYPT"),
        ("Origin", "Aliyun_KMS"),
        ("ProtectionLevel", "SOFTWARE"),
        ("KeyState", "Enabled"),
        ("Description", "lab key"),
        ("Creator", account.as_str()),
    ] {
        assert_eq!(meta[field], value, "{field}");
    }
    let key = [("KeyId", id.as_str())];
    let state = |body: serde_json::Value| body["KeyMetadata"]["KeyState"].clone();
    kms_ok(&admin, "DisableKey", &key).await;
    assert_eq!(state(kms_ok(&admin, "DescribeKey", &key).await), "Disabled");
    assert_error(
        &kms(&admin, "GenerateDataKey", &key).await,
        409,
        "Rejected.Disabled",
    );
    kms_ok(&admin, "EnableKey", &key).await;
    let window = |days: &'static str| [("KeyId", id.as_str()), ("PendingWindowInDays", days)];
    assert_error(
        &kms(&admin, "ScheduleKeyDeletion", &key).await,
        400,
        "MissingPendingWindowInDays",
    );
    for days in ["6", "367"] {
        let refused = kms(&admin, "ScheduleKeyDeletion", &window(days)).await;
        assert_error(&refused, 400, "InvalidParameter");
    }
    kms_ok(&admin, "ScheduleKeyDeletion", &window("7")).await;
    let described = kms_ok(&admin, "DescribeKey", &key).await;
    assert_eq!(state(described.clone()), "PendingDeletion");
    assert!(described["KeyMetadata"]["DeleteDate"]
        .as_str()
        .is_some_and(|d| d.ends_with('Z')));
    for action in ["EnableKey", "DisableKey", "ScheduleKeyDeletion"] {
        let refused = kms(&admin, action, &window("30")).await;
        assert_error(&refused, 409, "Rejected.StateModifiedFailed");
    }
    let plaintext = [("KeyId", id.as_str()), ("Plaintext", "hello")];
    let refused = kms(&admin, "Encrypt", &plaintext).await;
    assert_error(&refused, 409, "Rejected.PendingDeletion");
    kms_ok(&admin, "CancelKeyDeletion", &key).await;
    assert_eq!(state(kms_ok(&admin, "DescribeKey", &key).await), "Enabled");
    let again = kms(&admin, "CancelKeyDeletion", &key).await;
    assert_error(&again, 409, "Rejected.StateModifiedFailed");

    // Past its deletion date, a key is gone.
    kms_ok(&admin, "ScheduleKeyDeletion", &window("7")).await;
    let path = plane.dir.path().join("control-plane.db");
    let pool = sqlx::SqlitePool::connect(&format!("sqlite://{}", path.display()))
        .await
        .unwrap();
    sqlx::query("UPDATE kms_keys SET delete_at = 1 WHERE id = ?")
        .bind(&id)
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let gone = kms(&admin, "DescribeKey", &key).await;
    assert_error(&gone, 404, "Forbidden.KeyNotFound");
}

#[tokio::test]
async fn keys_are_listed_a_page_at_a_time_and_found_by_id_or_arn() {
    let plane = TestPlane::start(&[]).await;
    let admin = plane.client();
    let mut ids = Vec::new();
    for _ in 0..3 {
        ids.push(new_key(&admin).await);
    }
    let page = |n: &'static str| [("PageNumber", n), ("PageSize", "2")];
    let first = kms_ok(&admin, "ListKeys", &page("1")).await;
    let second = kms_ok(&admin, "ListKeys", &page("2")).await;
    assert_eq!(
        (first["TotalCount"].clone(), first["PageSize"].clone()),
        (json!(3), json!(2))
    );
    let listed: Vec<&str> = [&first, &second]
        .iter()
        .flat_map(|p| p["Keys"]["Key"].as_array().unwrap())
        .map(|k| k["KeyId"].as_str().unwrap())
        .collect();
    assert_eq!(listed, ids.iter().map(String::as_str).collect::<Vec<_>>());
    let arn = first["Keys"]["Key"][0]["KeyArn"]
        .as_str()
        .unwrap()
        .to_owned();
    let by_arn = kms_ok(&admin, "DescribeKey", &[("KeyId", &arn)]).await;
    assert_eq!(by_arn["KeyMetadata"]["KeyId"], ids[0].as_str());
    // Keys are regional: none of them in another region.
    let elsewhere = [("RegionId", "cn-shanghai"), ("KeyId", ids[0].as_str())];
    let refused = kms(&admin, "DescribeKey", &elsewhere).await;
    assert_error(&refused, 404, "Forbidden.KeyNotFound");
    let listed = kms_ok(&admin, "ListKeys", &[("RegionId", "cn-shanghai")]).await;
    assert_eq!(listed["TotalCount"], 0);
    let unknown = [("KeyId", "1234abcd-12ab-34cd-56ef-1234567890ab")];
    assert_error(
        &kms(&admin, "EnableKey", &unknown).await,
        404,
        "Forbidden.KeyNotFound",
    );
    let alias = [("KeyId", "alias/lab")];
    let refused = kms(&admin, "GenerateDataKey", &alias).await;
    assert_error(&refused, 404, "Forbidden.AliasNotFound");
    let hsm = kms(&admin, "CreateKey", &[("ProtectionLevel", "HSM")]).await;
    assert_error(&hsm, 400, "Unsupported.ProtectionLevel");
    let rsa = kms(&admin, "CreateKey", &[("KeySpec", "RSA_2048")]).await;
    assert_error(&rsa, 400, "InvalidParameter");
    let nowhere = kms(&admin, "ListKeys", &[("RegionId", "mars-1")]).await;
    assert_error(&nowhere, 404, "InvalidRegionId.NotFound");
    let no_such = kms(&admin, "ReEncrypt", &[]).await;
    assert_error(&no_such, 404, "InvalidAction.NotFound");
}

#[tokio::test]
async fn data_keys_round_trip_and_blobs_open_only_as_made() {
    let plane = TestPlane::start(&[]).await;
    let admin = plane.client();
    let (a, b) = (new_key(&admin).await, new_key(&admin).await);
    let generated = kms_ok(&admin, "GenerateDataKey", &[("KeyId", &a)]).await;
    let plaintext = generated["Plaintext"].as_str().unwrap();
    assert_eq!(STANDARD.decode(plaintext).unwrap().len(), 32);
    let blob = generated["CiphertextBlob"].as_str().unwrap();
    // The blob names its key, as the real ones start with a 36-character id.
    assert!(STANDARD.decode(blob).unwrap().starts_with(a.as_bytes()));
    let opened = kms_ok(&admin, "Decrypt", &[("CiphertextBlob", blob)]).await;
    assert_eq!(opened["Plaintext"], plaintext);
    assert_eq!(opened["KeyId"], a.as_str());
    assert_eq!(opened["KeyVersionId"], generated["KeyVersionId"]);
    for (pairs, bytes) in [
        (vec![("NumberOfBytes", "16")], 16),
        (vec![("KeySpec", "AES_128")], 16),
        (
            vec![("KeySpec", "AES_128"), ("NumberOfBytes", "1024")],
            1024,
        ),
    ] {
        let mut all = vec![("KeyId", a.as_str())];
        all.extend(pairs);
        let key = kms_ok(&admin, "GenerateDataKey", &all).await;
        let length = STANDARD.decode(key["Plaintext"].as_str().unwrap()).unwrap();
        assert_eq!(length.len(), bytes);
    }
    for bad in ["0", "1025"] {
        let pairs = [("KeyId", a.as_str()), ("NumberOfBytes", bad)];
        let refused = kms(&admin, "GenerateDataKey", &pairs).await;
        assert_error(&refused, 400, "InvalidParameter");
    }

    // Encrypt with a context: Decrypt needs an equal one, however written.
    let sealed = kms_ok(
        &admin,
        "Encrypt",
        &[
            ("KeyId", a.as_str()),
            ("Plaintext", "secret text"),
            ("EncryptionContext", r#"{"b":"2","a":"1"}"#),
        ],
    )
    .await;
    let blob = sealed["CiphertextBlob"].as_str().unwrap().to_owned();
    let with = |context: &'static str| {
        [
            ("CiphertextBlob", blob.as_str()),
            ("EncryptionContext", context),
        ]
    };
    let opened = kms_ok(&admin, "Decrypt", &with(r#"{"a": "1", "b": "2"}"#)).await;
    assert_eq!(opened["Plaintext"], "secret text");
    for context in [r#"{"a":"1"}"#, r#"{"a":"1","b":"3"}"#] {
        assert_error(
            &kms(&admin, "Decrypt", &with(context)).await,
            400,
            "InvalidParameter",
        );
    }
    let bare = kms(&admin, "Decrypt", &[("CiphertextBlob", &blob)]).await;
    assert_error(&bare, 400, "InvalidParameter");

    // Altered: a flipped bit, another key's name (it does not open there), an unknown key.
    let bytes = STANDARD.decode(&blob).unwrap();
    let mut flipped = bytes.clone();
    *flipped.last_mut().unwrap() ^= 1;
    let mut renamed = bytes.clone();
    renamed[..36].copy_from_slice(b.as_bytes());
    let mut unknown = bytes.clone();
    unknown[..36].copy_from_slice(b"1234abcd-12ab-34cd-56ef-1234567890ab");
    for (altered, status, code) in [
        (flipped, 400, "InvalidParameter"),
        (renamed, 400, "InvalidParameter"),
        (unknown, 404, "Forbidden.KeyNotFound"),
        (b"not a blob".to_vec(), 400, "InvalidParameter"),
    ] {
        let pairs = [
            ("CiphertextBlob", STANDARD.encode(&altered)),
            ("EncryptionContext", r#"{"a":"1","b":"2"}"#.to_owned()),
        ];
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        assert_error(&kms(&admin, "Decrypt", &pairs).await, status, code);
    }
    // A disabled key's blobs do not open until it is enabled again.
    kms_ok(&admin, "DisableKey", &[("KeyId", &a)]).await;
    let opened = kms(&admin, "Decrypt", &with(r#"{"a":"1","b":"2"}"#)).await;
    assert_error(&opened, 409, "Rejected.Disabled");
    kms_ok(&admin, "EnableKey", &[("KeyId", &a)]).await;
    kms_ok(&admin, "Decrypt", &with(r#"{"a":"1","b":"2"}"#)).await;
    // Keys are regional: no blob opens in another region.
    let pairs = [
        ("RegionId", "cn-shanghai"),
        ("CiphertextBlob", blob.as_str()),
    ];
    assert_error(
        &kms(&admin, "Decrypt", &pairs).await,
        404,
        "Forbidden.KeyNotFound",
    );
}

#[tokio::test]
async fn ram_holds_users_to_their_kms_permissions() {
    let plane = TestPlane::start(&[]).await;
    let admin = plane.client();
    let (mine, other) = (new_key(&admin).await, new_key(&admin).await);
    let account = plane.shared.store.admin_account().await.unwrap();
    let ecs_only = user_with(
        &plane,
        "ecs-only",
        json!([{"Effect": "Allow", "Action": "ecs:*", "Resource": "*"}]),
    )
    .await;
    let refused = kms(&ecs_only, "CreateKey", &[]).await;
    assert_error(&refused, 403, "Forbidden.NoPermission");
    let detail = &refused.1["AccessDeniedDetail"];
    assert_eq!(detail["AuthAction"], "kms:CreateKey");
    assert_eq!(detail["NoPermissionType"], "ImplicitDeny");

    let arn = format!("acs:kms:{REGION}:{account}:key/{mine}");
    let one_key = user_with(
        &plane,
        "one-key",
        json!([{"Effect": "Allow", "Action": ["kms:GenerateDataKey", "kms:Decrypt"], "Resource": arn}]),
    )
    .await;
    let generated = kms_ok(&one_key, "GenerateDataKey", &[("KeyId", &mine)]).await;
    let blob = generated["CiphertextBlob"].as_str().unwrap();
    kms_ok(&one_key, "Decrypt", &[("CiphertextBlob", blob)]).await;
    let refused = kms(&one_key, "GenerateDataKey", &[("KeyId", &other)]).await;
    assert_error(&refused, 403, "Forbidden.NoPermission");
    let refused = kms(&one_key, "ListKeys", &[]).await;
    assert_error(&refused, 403, "Forbidden.NoPermission");
    // Decrypt is authorized on the key the blob names.
    let theirs = kms_ok(&admin, "GenerateDataKey", &[("KeyId", &other)]).await;
    let pairs = [("CiphertextBlob", theirs["CiphertextBlob"].as_str().unwrap())];
    assert_error(
        &kms(&one_key, "Decrypt", &pairs).await,
        403,
        "Forbidden.NoPermission",
    );
}

#[tokio::test]
async fn signature_v4_is_verified_and_names_the_region() {
    let plane = TestPlane::start(&[]).await;
    let admin = plane.client();
    let created = kms_v4(&admin, "CreateKey", &[], "cn-shanghai", None, false).await;
    assert_eq!(created.0, 200, "{}", created.1);
    let arn = created.1["KeyMetadata"]["Arn"].as_str().unwrap();
    assert!(arn.starts_with("acs:kms:cn-shanghai:"), "{arn}");
    // A scope naming a region the lab does not serve leaves the default one.
    let listed = kms_v4(&admin, "ListKeys", &[], "center", None, false).await;
    assert_eq!((listed.0, listed.1["TotalCount"].clone()), (200, json!(0)));
    let listed = kms_v4(
        &admin,
        "ListKeys",
        &[("PageSize", "5")],
        "cn-shanghai",
        None,
        false,
    )
    .await;
    assert_eq!(listed.1["TotalCount"], 1, "{}", listed.1);
    let tampered = kms_v4(&admin, "ListKeys", &[], "cn-shanghai", None, true).await;
    assert_error(&tampered, 400, "SignatureDoesNotMatch");
    let yesterday = kms_v4(
        &admin,
        "ListKeys",
        &[],
        "cn-shanghai",
        Some("20200101"),
        false,
    )
    .await;
    assert_error(&yesterday, 400, "IncompleteSignature");
}
