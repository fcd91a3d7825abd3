//! First-start bootstrap: the admin account and its AccessKey, and the internal token.
//! Secrets go to files of mode 0600 in the data directory; the log only says where.

use axt_kit::files::write_private;

use secrecy::ExposeSecret as _;

use crate::{ids, store::Store, Config};

/// Name of the file a generated admin key is written to, inside the data directory.
pub const ADMIN_KEY_FILE: &str = "admin-access-key.json";
/// Name of the file a generated internal token is written to, inside the data directory.
pub const INTERNAL_TOKEN_FILE: &str = "internal-token";

/// Makes sure the admin account has an AccessKey: the one given by `AXT_ADMIN_ACCESS_KEY_ID`
/// and `AXT_ADMIN_ACCESS_KEY_SECRET` when both are set, otherwise a generated one (only on the
/// first start: a key already in the database is kept).
pub async fn ensure_admin_key(store: &Store, config: &Config) -> anyhow::Result<()> {
    let account = store.admin_account().await?;
    match (&config.admin_access_key_id, &config.admin_access_key_secret) {
        (Some(id), Some(secret)) => {
            store
                .put_access_key(id, secret.expose_secret(), &account)
                .await?;
            tracing::info!(access_key_id = %id, "admin AccessKey taken from the environment");
        }
        _ if store.account_has_key(&account).await? => {}
        _ => {
            let (id, secret) = ids::access_key_pair();
            store.put_access_key(&id, &secret, &account).await?;
            let path = config.data_dir.join(ADMIN_KEY_FILE);
            let body = serde_json::json!({
                "AccessKeyId": id,
                "AccessKeySecret": secret,
                "AccountId": account,
            });
            write_private(&path, &serde_json::to_vec_pretty(&body)?)?;
            tracing::info!(access_key_id = %id, path = %path.display(), "generated the admin AccessKey");
        }
    }
    Ok(())
}

/// The internal token: the configured one, else the one saved in the data directory, else a
/// new random one saved there for the gateway to read.
pub fn internal_token(config: &Config) -> anyhow::Result<String> {
    if let Some(token) = config
        .internal_token
        .as_ref()
        .map(|t| t.expose_secret())
        .filter(|t| !t.is_empty())
    {
        return Ok(token.to_owned());
    }
    let path = config.data_dir.join(INTERNAL_TOKEN_FILE);
    if let Ok(token) = std::fs::read_to_string(&path) {
        if !token.trim().is_empty() {
            return Ok(token.trim().to_owned());
        }
    }
    let token = hex::encode(rand::random::<[u8; 32]>());
    write_private(&path, token.as_bytes())?;
    tracing::info!(path = %path.display(), "generated the internal token for gateways");
    Ok(token)
}
