//! `axt-gateway`: the Cloud Assistant server of an axtlab region.

use anyhow::Context as _;
use clap::Parser as _;

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
