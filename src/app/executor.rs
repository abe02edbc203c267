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

use std::sync::{Arc, Mutex, mpsc};

use tokio::sync::{OwnedSemaphorePermit, Semaphore, oneshot};

type Job = Box<dyn FnOnce() + Send + 'static>;

/// The database threads and the connection permits. Cloned into every `AppState`; the threads
/// end when the last clone is dropped.
#[derive(Clone)]
pub struct DbExecutor {
    jobs: mpsc::Sender<Job>,
    permits: Arc<Semaphore>,
}

impl DbExecutor {
    pub fn new(threads: usize) -> std::io::Result<Self> {
        let threads = threads.max(1);
        let (jobs, queue) = mpsc::channel::<Job>();
        let queue = Arc::new(Mutex::new(queue));
        for i in 0..threads {
            let queue = queue.clone();
            std::thread::Builder::new()
                .name(format!("gongkai-db-{i}"))
                .spawn(move || {
                    loop {
                        let job = match queue.lock() {
                            Ok(q) => q.recv(),
                            Err(_) => return,
                        };
                        let Ok(job) = job else { return };
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
