//! A server running in a task of this process until its handle drops: how tests (and tools)
//! embed a control plane or a gateway.

use std::{future::Future, net::SocketAddr};

/// A server serving from a task of its own; dropping this handle is its shutdown signal.
pub struct Background<S> {
    /// Where it listens.
    pub addr: SocketAddr,
    /// Its shared state, to look into.
    pub shared: S,
    _stop: tokio::sync::oneshot::Sender<()>,
}

impl<S> Background<S> {
    /// Spawns `serve(shutdown)`, the server at `addr` with state `shared`: `shutdown` resolves
    /// when the returned handle drops.
    pub fn spawn<F>(
        addr: SocketAddr,
        shared: S,
        serve: impl FnOnce(std::pin::Pin<Box<dyn Future<Output = ()> + Send>>) -> F,
    ) -> Self
    where
        F: Future + Send + 'static,
        F::Output: Send,
    {
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(serve(Box::pin(async move {
            let _ = stopped.await;
        })));
        Self {
            addr,
            shared,
            _stop: stop,
        }
    }
}
