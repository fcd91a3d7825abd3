//! `axt-control-plane`: the ECS OpenAPI endpoint of an axtlab region (or, with a subcommand,
//! an administrator's task on its data directory).

use anyhow::Context as _;
use clap::Parser as _;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    axt_kit::logging::init("info,sqlx=warn");
    let config = axt_control_plane::Config::parse();
    if let Some(task) = &config.task {
        return axt_control_plane::run_task(&config, task).await;
    }
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("binding {}", config.listen))?;
    let app = axt_control_plane::App::open(config).await?;
    app.serve(listener, axt_kit::shutdown::signal()).await
}
