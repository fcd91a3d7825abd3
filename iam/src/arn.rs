//! Alibaba Cloud Resource Names, as RAM policies and STS answers write them.

/// `acs:ecs:<region>:<account>:instance/<id>`.
pub fn instance(region: &str, account: &str, instance_id: &str) -> String {
    format!("acs:ecs:{region}:{account}:instance/{instance_id}")
}

/// `acs:ecs:<region>:<account>:securitygroup/<id>`.
pub fn security_group(region: &str, account: &str, id: &str) -> String {
    format!("acs:ecs:{region}:{account}:securitygroup/{id}")
}

/// `acs:ram::<account>:root`: the account itself.
pub fn account_root(account: &str) -> String {
    format!("acs:ram::{account}:root")
}

/// `acs:ram::<account>:user/<name>`.
pub fn user(account: &str, name: &str) -> String {
    format!("acs:ram::{account}:user/{name}")
}

/// `acs:ram::<account>:group/<name>`.
pub fn group(account: &str, name: &str) -> String {
    format!("acs:ram::{account}:group/{name}")
}

/// `acs:ram::<account>:role/<name>` (RAM writes role names in lower case in ARNs).
pub fn role(account: &str, name: &str) -> String {
    format!("acs:ram::{account}:role/{}", name.to_lowercase())
}

/// `acs:ram::<account>:policy/<name>`.
pub fn policy(account: &str, name: &str) -> String {
    format!("acs:ram::{account}:policy/{name}")
}

/// `acs:ram::<account>:assumed-role/<role>/<session>`: an STS session of a role.
pub fn assumed_role(account: &str, role: &str, session: &str) -> String {
    format!(
        "acs:ram::{account}:assumed-role/{}/{session}",
        role.to_lowercase()
    )
}
