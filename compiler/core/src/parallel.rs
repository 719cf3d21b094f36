//! Splitting pure work over the machine's cores.
//!
//! Loading and lowering are independent per file and per document, so they
//! run on scoped threads over contiguous chunks, and the results come back
//! in input order: output stays deterministic whatever the core count. This
//! is computation, not IO: the core stays pure.

use std::thread;

/// Applies `f` to contiguous chunks of `items` on up to as many threads as
/// there are cores, returning the results in chunk order.
pub fn map_chunks<T: Sync, R: Send>(items: &[T], f: impl Fn(&[T]) -> R + Sync) -> Vec<R> {
    let threads = thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(8);
    if threads < 2 || items.len() < 64 {
        return vec![f(items)];
    }
    let size = items.len().div_ceil(threads);
    thread::scope(|scope| {
        let handles: Vec<_> = items
            .chunks(size)
            .map(|chunk| scope.spawn(|| f(chunk)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| std::panic::resume_unwind(e)))
            .collect()
    })
}
