//! `axt-gateway`: the Cloud Assistant server of an axtlab region.

use anyhow::Context as _;
use clap::Parser as _;

/// jemalloc, with its background thread, rather than glibc's malloc: it gives freed memory back
/// to the system within seconds, idle or not (glibc kept a soak's closed sessions resident, and
/// mimalloc half of them), and recycles the short-lived frame buffers of small WebSocket reads
/// without a page fault each (README, Performance: "Memory per session").
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    axt_kit::logging::init("info");
    let config = axt_gateway::Config::parse();
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let gateway = axt_gateway::Gateway::open(config).await?;
    gateway.serve(listener, axt_kit::shutdown::signal()).await
}
