//! `--chaos SEED`: the faults AWS brings, made on purpose and repeatable. [`Faults`] is a small seeded
//! random source each faulty part draws from; the queues use it (see [`crate::pipeline`]) to reorder
//! messages within a time window, hand some out twice and fail some batches, and [`ChaosPusher`] to answer some
//! posts 429 or 500. The same seed draws the same sequence of faults; with several consumers the
//! interleaving of tasks still decides which message meets which fault.
//!
//! A chaos 410 is never made up for a live connection: API Gateway answers 410 only for a connection that is
//! gone, and a false one would make the registry forget a live connection (it would leave every room
//! without knowing, and its next send would be refused `not_a_member`). Real 410s — posts to connections
//! that closed before their `$disconnect` was applied — still happen, and more often under chaos, since
//! `$disconnect` commands wait in the queue behind the faults.

use std::{sync::Mutex, time::Duration};

use async_trait::async_trait;
use bytes::Bytes;
use lambdas::ports::{PushError, Pusher};
use protocol::ConnectionId;
use rand::{rngs::StdRng, Rng, SeedableRng};

/// Share of queue messages handed out a second time.
pub const DUPLICATE: f64 = 0.02;
/// Share of batches that fail as a whole (after their consumer ran) and come back after the visibility
/// timeout.
pub const FAILED_BATCH: f64 = 0.01;
/// Share of posts to a connection answered 429 or 500.
pub const FAILED_POST: f64 = 0.01;
/// Each queue message shows up after a random delay up to this, so messages queued within it of one
/// another may overtake one another (an SQS FIFO queue keeps a group's order all the same).
pub const REORDER_WINDOW: Duration = Duration::from_millis(20);

/// A seeded random source for one faulty part. Parts draw from their own `stream`, so adding draws to one
/// part does not change another's faults.
#[derive(Debug)]
pub struct Faults {
    rng: Mutex<StdRng>,
}

impl Faults {
    pub fn new(seed: u64, stream: u64) -> Self {
        let mixed = seed ^ stream.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        Self {
            rng: Mutex::new(StdRng::seed_from_u64(mixed)),
        }
    }

    fn rng(&self) -> std::sync::MutexGuard<'_, StdRng> {
        self.rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// True with probability `p`.
    pub fn chance(&self, p: f64) -> bool {
        self.rng().gen_bool(p)
    }

    /// A random duration from zero to `max`.
    pub fn up_to(&self, max: Duration) -> Duration {
        max.mul_f64(self.rng().gen_range(0.0..=1.0))
    }

    /// Shuffles `items` (Fisher–Yates).
    pub fn shuffle<T>(&self, items: &mut [T]) {
        let mut rng = self.rng();
        for i in (1..items.len()).rev() {
            items.swap(i, rng.gen_range(0..=i));
        }
    }
}

/// A [`Pusher`] that answers [`FAILED_POST`] of the posts 429 (throttled) or 500 (failed) without passing
/// them on; the rest go to `inner`.
pub struct ChaosPusher {
    inner: std::sync::Arc<dyn Pusher>,
    faults: Faults,
}

impl ChaosPusher {
    pub fn new(inner: std::sync::Arc<dyn Pusher>, faults: Faults) -> Self {
        Self { inner, faults }
    }
}

#[async_trait]
impl Pusher for ChaosPusher {
    async fn post(&self, connection_id: &ConnectionId, payload: Bytes) -> Result<(), PushError> {
        if self.faults.chance(FAILED_POST) {
            return Err(if self.faults.chance(0.5) {
                PushError::Throttled
            } else {
                PushError::Failed("chaos: 500 Internal Server Error".into())
            });
        }
        self.inner.post(connection_id, payload).await
    }

    async fn close(&self, connection_id: &ConnectionId) -> Result<(), PushError> {
        self.inner.close(connection_id).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same seed and stream draw the same faults; another stream draws others.
    #[test]
    fn faults_repeat_for_a_seed() {
        let draws = |seed, stream| {
            let faults = Faults::new(seed, stream);
            (0..200).map(|_| faults.chance(0.3)).collect::<Vec<_>>()
        };
        assert_eq!(draws(7, 1), draws(7, 1));
        assert_ne!(draws(7, 1), draws(7, 2));
        assert_ne!(draws(7, 1), draws(8, 1));
    }
}
