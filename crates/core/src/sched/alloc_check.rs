//! Test-only proof that `Scheduler::schedule` never allocates: the crate's test
//! binary counts heap allocations made by the current thread while armed.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

use super::testutil::*;
use super::{new_scheduler, SchedFlags, SchedulerKind};
use crate::time::Time;

thread_local! {
    static ARMED: Cell<bool> = const { Cell::new(false) };
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

/// Passes everything to the system allocator, counting calls on armed threads.
struct Counting;

fn note() {
    // `try_with`: the thread may be shutting down; never fail an allocation.
    let _ = ARMED.try_with(|armed| {
        if armed.get() {
            COUNT.with(|c| c.set(c.get() + 1));
        }
    });
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note();
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static COUNTING: Counting = Counting;

/// Heap allocations `f` makes on this thread.
fn allocations_in(f: impl FnOnce()) -> usize {
    COUNT.with(|c| c.set(0));
    ARMED.with(|a| a.set(true));
    f();
    ARMED.with(|a| a.set(false));
    COUNT.with(|c| c.get())
}

#[test]
fn the_counter_sees_allocations() {
    assert!(allocations_in(|| drop(std::hint::black_box(vec![1u8; 10]))) >= 1);
}

#[test]
fn schedule_never_allocates() {
    let weights: Vec<u32> = (0..100).map(|i| 1 + (i * 7) % 10).collect();
    let dests = test_dests(&weights);
    for (i, d) in dests.iter().enumerate() {
        set_conns(d, (i as u32 * 13) % 12, (i as u32 * 29) % 40);
    }
    let flags = SchedFlags {
        fallback: true,
        port: true,
        flag3: false,
    };
    for kind in SchedulerKind::ALL {
        let mut s = new_scheduler(kind, flags);
        s.update(&dests);
        let n = allocations_in(|| {
            for k in 0..5000u32 {
                // Quiesce some servers on the way so fallbacks and reschedules run.
                if k == 2500 {
                    for d in dests.iter().step_by(3) {
                        d.set_weight(0);
                    }
                }
                let mut c = ctx_v4(k.wrapping_mul(2_654_435_761), (k % 200) as u8);
                c.client_port = k as u16;
                c.now = Time::from_secs(u64::from(k));
                std::hint::black_box(s.schedule(&dests, &c));
            }
        });
        assert_eq!(n, 0, "{kind} allocated {n} times in schedule()");
        for (d, &w) in dests.iter().zip(&weights) {
            d.set_weight(w as i32);
        }
    }
}
