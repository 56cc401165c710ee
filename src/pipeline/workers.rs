//! The parallel path's thread pool, whose threads end with the analysis.
//!
//! A dropped rayon pool lets its threads exit in their own time, so they would
//! outlive the analysis that made them: a program that analyses capture after
//! capture, or a fuzzer that makes a pool per input and checks for leaks, would
//! find threads (and their thread-local state) still winding down. The pool's
//! threads are started here, their handles kept, and joined when the analysis
//! is dropped.

use std::thread::JoinHandle;

use rayon::ThreadPool;

/// A thread pool and the handles of its threads.
pub(crate) struct Workers {
    /// `None` only while being dropped.
    pool: Option<ThreadPool>,
    threads: Vec<JoinHandle<()>>,
}

impl Workers {
    /// A pool of `n` threads, or `None` when they cannot be started.
    pub fn new(n: usize) -> Option<Workers> {
        let mut threads = Vec::with_capacity(n);
        let pool = rayon::ThreadPoolBuilder::new()
            .num_threads(n)
            .thread_name(|i| format!("tamperscope-{i}"))
            .spawn_handler(|t| {
                let mut b = std::thread::Builder::new();
                if let Some(name) = t.name() {
                    b = b.name(name.to_owned());
                }
                if let Some(size) = t.stack_size() {
                    b = b.stack_size(size);
                }
                threads.push(b.spawn(|| t.run())?);
                Ok(())
            })
            .build()
            .ok()?;
        Some(Workers {
            pool: Some(pool),
            threads,
        })
    }

    /// The pool.
    pub fn pool(&self) -> Option<&ThreadPool> {
        self.pool.as_ref()
    }
}

impl Drop for Workers {
    fn drop(&mut self) {
        // Dropping the pool tells its threads to finish; then they are waited
        // for (a thread that panicked has nothing left to say here).
        drop(self.pool.take());
        for t in self.threads.drain(..) {
            let _ = t.join();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    static ENDED: AtomicUsize = AtomicUsize::new(0);

    /// Counts its thread's end (thread-local destructors run as a thread exits).
    struct EndMark;
    impl Drop for EndMark {
        fn drop(&mut self) {
            ENDED.fetch_add(1, Ordering::SeqCst);
        }
    }
    thread_local! {
        static MARK: EndMark = const { EndMark };
    }

    /// When a `Workers` is dropped its threads have ended, thread-local
    /// destructors and all: nothing of the pool outlives the analysis.
    #[test]
    fn threads_end_with_the_workers() {
        let w = Workers::new(2).expect("a pool of two threads");
        w.pool().expect("a pool").broadcast(|_| MARK.with(|_| ()));
        assert_eq!(ENDED.load(Ordering::SeqCst), 0);
        drop(w);
        assert_eq!(ENDED.load(Ordering::SeqCst), 2);
    }
}
