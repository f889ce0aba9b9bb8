//! Runs the async clients of remote stores (tokio-postgres, object_store) behind the store's
//! synchronous API.
//!
//! The store is synchronous (SQLite and files are), and it is called from inside async code
//! (the nightly cycle, the pipeline storing each chunk, OAuth token caches mid-request). An
//! async client cannot simply be `block_on`-ed there: tokio refuses to start a runtime from
//! within a runtime, and the tests' current-thread runtime has no other thread to park. So a
//! remote store owns a small runtime of its own, on its own thread, where its connections live
//! and make progress; a call hands a future to that thread and waits on a plain channel. The
//! caller's thread blocks for the round trip, exactly as it blocks on a SQLite write today.

use std::future::Future;

/// A one-thread runtime owned by a remote store.
pub(crate) struct Bridge {
    runtime: Option<tokio::runtime::Runtime>,
}

/// The bridge's thread is gone (its task panicked or the runtime shut down).
#[derive(Debug, thiserror::Error)]
#[error("the store's connection thread stopped")]
pub(crate) struct BridgeStopped;

impl Bridge {
    pub(crate) fn new(name: &str) -> std::io::Result<Bridge> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name(name)
            .enable_all()
            .build()?;
        Ok(Bridge {
            runtime: Some(runtime),
        })
    }

    /// Runs `future` on the bridge's thread and waits for its output.
    pub(crate) fn run<F>(&self, future: F) -> Result<F::Output, BridgeStopped>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        let runtime = self.runtime.as_ref().ok_or(BridgeStopped)?;
        let (send, receive) = std::sync::mpsc::sync_channel(1);
        runtime.spawn(async move {
            // The receiver only goes away if the caller did, and then nobody wants the output.
            let _ = send.send(future.await);
        });
        receive.recv().map_err(|_| BridgeStopped)
    }

    /// Spawns `future` on the bridge's thread without waiting (a connection's driver task).
    pub(crate) fn spawn<F>(&self, future: F)
    where
        F: Future<Output = ()> + Send + 'static,
    {
        if let Some(runtime) = &self.runtime {
            runtime.spawn(future);
        }
    }
}

impl Drop for Bridge {
    fn drop(&mut self) {
        // Dropping a runtime blocks until its tasks finish, which tokio forbids inside async
        // code (where stores are dropped); the connections close with their tasks anyway.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn runs_a_future_from_inside_async_code_and_drops_cleanly() {
        let bridge = Bridge::new("kassa-test-bridge").unwrap();
        let answer = bridge
            .run(async {
                tokio::task::yield_now().await;
                42
            })
            .unwrap();
        assert_eq!(answer, 42);
        drop(bridge);
    }

    #[test]
    fn a_panicking_future_is_an_error_not_a_hang() {
        let bridge = Bridge::new("kassa-test-bridge").unwrap();
        let result = bridge.run(async { panic!("boom") });
        assert!(result.is_err());
        assert_eq!(bridge.run(async { 1 }).unwrap(), 1);
    }
}
