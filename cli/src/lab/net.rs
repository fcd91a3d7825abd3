//! The lab's network: Linux network namespaces joined by veth pairs and two bridges, all in
//! one private `10.213.N.0/24` that nothing outside the lab uses.
//!
//! ```text
//!  this host (root namespace)            instance namespaces           target namespace
//!  control plane 127.0.0.1:8080
//!  gateway 10.213.N.1:8443 ── bridge axtlabN ── eth0 .11 [axtlabN-i1] eth1 .139 ──┐
//!  axt (the client)                  └───────── eth0 .12 [axtlabN-i2] eth1 .140 ──┤ br0
//!                                                                   target .129 ──┘
//!                                                                   (http :8000, sshd :22)
//! ```
//!
//! The region's network is `10.213.N.0/25`, the private one `10.213.N.128/25`. No namespace
//! has a default route; the root namespace gets an `unreachable` route for the whole /24, so
//! that from this host the private half fails at once ("No route to host") instead of going
//! to the default gateway. The instances do not forward between their two links: the target
//! is reached only by a process running on an instance — the agent, for a port forward.

use std::net::Ipv4Addr;

use anyhow::{bail, Context as _};
use axt_kit::netns;

use super::state::LabState;

/// Every namespace, bridge and veth end the lab creates starts with this.
pub const PREFIX: &str = "axtlab";
/// The web service's port on the target.
pub const TARGET_HTTP_PORT: u16 = 8000;

/// The addresses of lab `index` (N of 10.213.N.0/24).
#[derive(Debug, Clone, Copy)]
pub struct Plan {
    pub index: u8,
}

impl Plan {
    fn addr(&self, host: u8) -> Ipv4Addr {
        Ipv4Addr::new(10, 213, self.index, host)
    }

    /// This host's address on the region's bridge: where the gateway listens.
    pub fn host_ip(&self) -> Ipv4Addr {
        self.addr(1)
    }

    /// Instance `i`'s (1-based) address on the region's network.
    pub fn public_ip(&self, i: u8) -> Ipv4Addr {
        self.addr(10 + i)
    }

    /// Instance `i`'s address on the private network.
    pub fn private_ip(&self, i: u8) -> Ipv4Addr {
        self.addr(138 + i)
    }

    /// The target's address.
    pub fn target_ip(&self) -> Ipv4Addr {
        self.addr(129)
    }

    /// The region's bridge in the root namespace.
    pub fn bridge(&self) -> String {
        format!("{PREFIX}{}", self.index)
    }

    /// The namespace of instance `i`.
    pub fn instance_ns(&self, i: u8) -> String {
        format!("{PREFIX}{}-i{i}", self.index)
    }

    /// The target's namespace.
    pub fn target_ns(&self) -> String {
        format!("{PREFIX}{}-target", self.index)
    }

    /// The prefix of every namespace of this lab.
    pub fn ns_prefix(&self) -> String {
        format!("{PREFIX}{}-", self.index)
    }

    /// The root namespace's end of instance `i`'s link (at most 15 characters).
    fn root_end(&self, i: u8) -> String {
        format!("{PREFIX}{}i{i}", self.index)
    }

    /// The root namespace's route that keeps the whole /24 on this machine.
    fn guard_route(&self) -> String {
        format!("unreachable 10.213.{}.0/24", self.index)
    }
}

/// The first N whose `10.213.N.0/24` nothing on this host uses (no address, route or lab
/// namespace, and no test holding it).
pub fn free_index() -> anyhow::Result<u8> {
    (1..=254u8)
        .find(|&n| !netns::subnet_in_use(n, PREFIX))
        .context("every 10.213.N.0/24 is in use; free one or pass --net-index")
}

/// Refuses an `index` something on this host already uses.
pub fn check_index(index: u8) -> anyhow::Result<()> {
    if netns::subnet_in_use(index, PREFIX) {
        bail!("10.213.{index}.0/24 is already in use on this host; choose another --net-index");
    }
    Ok(())
}

/// A namespace with its loopback up, recorded in `state` (so that it is removed even if what
/// follows fails).
fn add_namespace(state: &mut LabState, name: &str) -> anyhow::Result<()> {
    let ns = netns::Namespace::create(name)?;
    state.namespaces.push(ns.keep());
    Ok(())
}

/// The region's bridge (with the guard route) and the target's namespace with its private
/// bridge.
pub fn create_region(state: &mut LabState, plan: &Plan) -> anyhow::Result<()> {
    let bridge = plan.bridge();
    state.links.push(bridge.clone());
    netns::bridge(None, &bridge)?;
    netns::address(None, &bridge, &format!("{}/25", plan.host_ip()))?;
    let guard = plan.guard_route();
    state.routes.push(guard.clone());
    netns::route(None, &guard)?;

    let target = plan.target_ns();
    add_namespace(state, &target)?;
    netns::bridge(Some(&target), "br0")?;
    netns::address(Some(&target), "br0", &format!("{}/25", plan.target_ip()))
}

/// Instance `i`'s namespace: `eth0` on the region's bridge, `eth1` on the target's.
pub fn create_instance(state: &mut LabState, plan: &Plan, i: u8) -> anyhow::Result<()> {
    let ns = plan.instance_ns(i);
    add_namespace(state, &ns)?;
    let root_end = plan.root_end(i);
    state.links.push(root_end.clone());
    netns::veth(None, &root_end, Some(&ns), "eth0")?;
    netns::enslave(None, &root_end, &plan.bridge())?;
    netns::address(Some(&ns), "eth0", &format!("{}/25", plan.public_ip(i)))?;

    let target = plan.target_ns();
    let target_end = format!("i{i}");
    netns::veth(Some(&ns), "eth1", Some(&target), &target_end)?;
    netns::enslave(Some(&target), &target_end, "br0")?;
    netns::address(Some(&ns), "eth1", &format!("{}/25", plan.private_ip(i)))
}

/// Removes what `state` lists: namespaces, root links, routes. Whatever is already gone is
/// skipped; returns what could not be removed.
pub fn remove(state: &LabState) -> Vec<String> {
    let mut left = Vec::new();
    let existing = netns::namespaces();
    for ns in state.namespaces.iter().filter(|ns| existing.contains(ns)) {
        if let Err(err) = netns::ip(&["netns", "del", ns]) {
            left.push(format!("namespace {ns}: {err:#}"));
        }
    }
    // A veth end goes with its namespace, or once nothing holds that namespace any more;
    // deleting the root ends by name frees the subnet at once either way.
    for link in &state.links {
        if netns::link_exists(link) {
            if let Err(err) = netns::ip(&["link", "del", link]) {
                left.push(format!("link {link}: {err:#}"));
            }
        }
    }
    for route in &state.routes {
        let mut args = vec!["route", "del"];
        args.extend(route.split_whitespace());
        let mut show = vec!["route", "show", "type"];
        show.extend(route.split_whitespace());
        if !netns::ip_output(&show).trim().is_empty() {
            if let Err(err) = netns::ip(&args) {
                left.push(format!("route {route}: {err:#}"));
            }
        }
    }
    left
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_plan_keeps_public_private_and_names_apart() {
        let plan = Plan { index: 254 };
        assert_eq!(plan.host_ip(), Ipv4Addr::new(10, 213, 254, 1));
        assert_eq!(plan.public_ip(16), Ipv4Addr::new(10, 213, 254, 26));
        assert_eq!(plan.private_ip(1), Ipv4Addr::new(10, 213, 254, 139));
        assert_eq!(plan.private_ip(16), Ipv4Addr::new(10, 213, 254, 154));
        assert_eq!(plan.target_ip(), Ipv4Addr::new(10, 213, 254, 129));
        // The region's half (< .128) and the private half (≥ .128) never mix.
        assert!(plan.public_ip(16).octets()[3] < 128 && plan.private_ip(1).octets()[3] > 128);
        // Interface names are at most 15 bytes.
        assert!(plan.root_end(16).len() <= 15 && plan.bridge().len() <= 15);
        assert!(plan.instance_ns(2).starts_with(&plan.ns_prefix()));
        assert!(plan.target_ns().starts_with(&plan.ns_prefix()));
        assert_eq!(plan.guard_route(), "unreachable 10.213.254.0/24");
    }
}
