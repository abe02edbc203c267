//! Where database work runs: a fixed set of threads, as many as the pool has connections, and
//! a permit per connection taken *before* the work is queued.
//!
//! Diesel is blocking, so its work leaves the async workers. Tokio's blocking pool grows a
//! thread per waiting job (up to 512 per runtime): under a burst each job got a thread, most
//! of them only to wait for a pooled connection, and every thread kept its stack and allocator
//! arenas (a resident size of 90–140 MB after a load test). Here a job first waits, without a
//! thread, for one of `database.pool_max_size` permits (one per connection); with a permit a
//! connection is always free, so a job never blocks a thread on the pool, and that many
//! threads are enough. A request that keeps its connection between steps keeps its permit
//! with it (`app::request_scope`).
//!
//! The threads wait on one multi-consumer queue (`crossbeam-channel`), which wakes one idle
//! thread per job. The first version shared a standard `mpsc` receiver behind a mutex: the
//! thread holding the mutex waited for a job while the others waited for the mutex, so every
//! job also woke a second thread only to move it from one wait to the other.

use std::sync::Arc;

use crossbeam_channel::Sender;
use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The database threads and the connection permits. Cloned into every `AppState`; the threads
/// end when the last clone is dropped.
#[derive(Clone)]
pub struct DbExecutor {
    jobs: Sender<Job>,
    permits: Arc<Semaphore>,
}

impl DbExecutor {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = crossbeam_channel::unbounded::<Job>();
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("gongkai-db-{i}"))
                .spawn(move || {
                    // Ends when every sender is gone.
                    for job in queue.iter() {
                        // A panicking job answers its caller with an error (its result sender
                        // is dropped); the thread lives on.
                        let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(job));
                    }
                })?;
        }
        Ok(Self {
            jobs,
            permits: Arc::new(Semaphore::new(threads)),
        })
    }

    /// Waits, without holding a thread, for one of the connection permits.
    pub async fn permit(&self) -> Option<OwnedSemaphorePermit> {
        self.permits.clone().acquire_owned().await.ok()
    }

    /// Runs `f` on a database thread; `None` when it panicked or the threads are gone.
    pub async fn run<T, F>(&self, f: F) -> Option<T>
    where
        T: Send + 'static,
        F: FnOnce() -> T + Send + 'static,
    {
        let (tx, rx) = oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        self.jobs.send(job).ok()?;
        rx.await.ok()
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[tokio::test]
    async fn jobs_run_on_the_database_threads() {
        let ex = DbExecutor::new(1).unwrap();
        let name = ex
            .run(|| std::thread::current().name().map(str::to_owned))
            .await;
        assert_eq!(name, Some(Some("gongkai-db-0".to_owned())));
    }

    #[tokio::test]
    async fn a_panicking_job_answers_none_and_its_thread_serves_the_next() {
        let ex = DbExecutor::new(1).unwrap();
        let panicked: Option<()> = ex.run(|| panic!("a job that fails")).await;
        assert_eq!(panicked, None);
        // The one thread is still there for the next job.
        assert_eq!(ex.run(|| 7).await, Some(7));
    }

    #[tokio::test]
    async fn every_queued_job_runs_while_all_threads_are_busy() {
        let ex = DbExecutor::new(2).unwrap();
        let jobs = (0..64u64).map(|i| {
            let ex = ex.clone();
            async move {
                ex.run(move || {
                    std::thread::sleep(Duration::from_millis(1));
                    i * 2
                })
                .await
            }
        });
        let answers = futures_util::future::join_all(jobs).await;
        let expected: Vec<Option<u64>> = (0..64u64).map(|i| Some(i * 2)).collect();
        assert_eq!(answers, expected);
    }

    #[tokio::test]
    async fn there_is_one_permit_per_thread() {
        let ex = DbExecutor::new(2).unwrap();
        let a = ex.permit().await.unwrap();
        let _b = ex.permit().await.unwrap();
        let third = tokio::time::timeout(Duration::from_millis(50), ex.permit()).await;
        assert!(third.is_err(), "a third permit was given with two threads");
        drop(a);
        let again = tokio::time::timeout(Duration::from_secs(5), ex.permit()).await;
        assert!(
            matches!(again, Ok(Some(_))),
            "a permit given back is not taken again"
        );
    }
}
