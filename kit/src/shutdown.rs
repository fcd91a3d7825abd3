//! The shutdown signal of every axtlab service: the first Ctrl-C or SIGTERM.

/// Resolves on Ctrl-C or SIGTERM, whichever comes first (only on Ctrl-C where SIGTERM cannot
/// be watched).
pub async fn signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(mut term) => {
            tokio::select! {
                _ = ctrl_c => {}
                _ = term.recv() => {}
            }
        }
        Err(_) => {
            let _ = ctrl_c.await;
        }
    }
    tracing::info!("shutting down");
}
