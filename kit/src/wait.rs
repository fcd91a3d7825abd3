//! Waiting on a condition with a deadline: how tests and the lab synchronise with things they
//! cannot be told about (a file appearing, a port opening), never by sleeping a fixed time.

use std::time::Duration;

/// How often a condition is looked at again.
pub const POLL: Duration = Duration::from_millis(20);

/// Polls `ready` until it gives a value, for at most `limit`; `None` when time ran out.
pub async fn until<T>(limit: Duration, mut ready: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = tokio::time::Instant::now() + limit;
    let mut tick = tokio::time::interval(POLL);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        if let Some(value) = ready() {
            return Some(value);
        }
        if tokio::time::Instant::now() >= deadline {
            return None;
        }
        tick.tick().await;
    }
}

/// Polls `condition` until it holds, for at most `limit`; panics naming `what` when it does
/// not (for tests, where a condition never met is the failure).
pub async fn assert_within(limit: Duration, what: &str, mut condition: impl FnMut() -> bool) {
    if until(limit, || condition().then_some(())).await.is_none() {
        panic!("{what}: not within {limit:?}");
    }
}

/// Asks `probe` again and again (every [`POLL`]) until its answer satisfies `done`, for at
/// most `limit`; returns that answer, or panics naming `what` with the last answer (for tests
/// that watch a record another process writes).
pub async fn eventually<T: std::fmt::Debug, F: std::future::Future<Output = T>>(
    limit: Duration,
    what: &str,
    mut probe: impl FnMut() -> F,
    done: impl Fn(&T) -> bool,
) -> T {
    let deadline = tokio::time::Instant::now() + limit;
    loop {
        let answer = probe().await;
        if done(&answer) {
            return answer;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{what}: not within {limit:?}; the last answer: {answer:?}"
        );
        tokio::time::sleep(POLL).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn gives_the_value_or_gives_up_at_the_deadline() {
        let mut calls = 0;
        let got = until(Duration::from_secs(1), || {
            calls += 1;
            (calls == 3).then_some(calls)
        })
        .await;
        assert_eq!(got, Some(3));
        let start = tokio::time::Instant::now();
        assert_eq!(until(Duration::from_secs(1), || None::<()>).await, None);
        assert!(start.elapsed() >= Duration::from_secs(1));
    }
}
