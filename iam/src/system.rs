//! The system policies every account has, by name.
//!
//! SKELETON: being written.

use crate::policy::Document;

/// Name, description and document of every system policy.
pub const SYSTEM_POLICIES: &[(&str, &str, &str)] = &[];

/// The parsed system policy called `name` (case as RAM spells it).
pub fn system_policy(name: &str) -> Option<&'static Document> {
    let _ = name;
    todo!("helper: system policies")
}
