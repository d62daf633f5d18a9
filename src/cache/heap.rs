//! The heap as the allocator sees it. The library installs a counting wrapper around the system allocator
//! (the `cap` crate: one relaxed atomic add per allocation and free), so the bytes a snapshot is reported to hold
//! can be checked against what is really allocated — the cache benchmark does — and an operator sees the
//! process's live heap beside the snapshot's share of it (`/api/relationships/stats`, `/metrics`).

use std::alloc::System;

use cap::Cap;

/// The global allocator: the system's, counted.
#[global_allocator]
static ALLOCATOR: Cap<System> = Cap::new(System, usize::MAX);

/// Live heap bytes of the whole process.
pub fn live_bytes() -> usize {
    ALLOCATOR.allocated()
}
