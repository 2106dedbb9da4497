//! The contract's allocator.
//!
//! A CosmWasm call runs in a fresh instance whose memory is discarded when the call returns, and
//! the VM charges gas for every operation and 14 times as much for every branch and call. A
//! general-purpose allocator (std's dlmalloc) spends that on bins and chunk lists: about 9 M gas
//! of a double vote's 128 M. The [`Heap`] hands memory out upward and takes a block back only
//! when it is the last one handed out, which covers the common cases (a temporary freed at once,
//! a vector grown or shrunk in place); memory freed out of order is not reused during the call.
//! A call therefore uses at most the memory it allocates in total, which its gas bounds, and the
//! VM's instance memory limit caps: past it an allocation fails and the call aborts.

use core::alloc::{GlobalAlloc, Layout};
use core::cell::Cell;
use core::ptr::{self, null_mut};

/// Where the heap's memory comes from.
pub trait Memory {
    /// The first address the heap may use.
    fn start(&self) -> usize;
    /// The end of the memory now available.
    fn end(&self) -> usize;
    /// Grows the memory so that it ends at `end` or beyond; false if it cannot.
    fn grow_to(&self, end: usize) -> bool;
}

/// A bump allocator over `M` that takes back the last block (see the module's documentation).
pub struct Heap<M: Memory> {
    memory: M,
    /// The next free address, 0 before the first allocation.
    top: Cell<usize>,
}

// SAFETY: a CosmWasm contract runs on one thread (wasm32 without threads), and the native tests
// use a heap from one thread only.
unsafe impl<M: Memory> Sync for Heap<M> {}

impl<M: Memory> Heap<M> {
    /// A heap over `memory`, starting at `memory.start()`.
    pub const fn new(memory: M) -> Self {
        Heap {
            memory,
            top: Cell::new(0),
        }
    }

    fn top(&self) -> usize {
        match self.top.get() {
            0 => self.memory.start(),
            top => top,
        }
    }

    /// Moves the top to `new_top`, growing the memory if needed; false if it cannot.
    fn set_top(&self, new_top: usize) -> bool {
        if new_top > self.memory.end() && !self.memory.grow_to(new_top) {
            return false;
        }
        self.top.set(new_top);
        true
    }

    /// Whether the block at `ptr` of `size` bytes is the last one handed out.
    fn is_last(&self, ptr: *mut u8, size: usize) -> bool {
        (ptr as usize).wrapping_add(size) == self.top()
    }
}

unsafe impl<M: Memory> GlobalAlloc for Heap<M> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let align = layout.align();
        let Some(start) = self.top().checked_add(align - 1).map(|a| a & !(align - 1)) else {
            return null_mut();
        };
        match start.checked_add(layout.size()) {
            Some(end) if self.set_top(end) => start as *mut u8,
            _ => null_mut(),
        }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        if self.is_last(ptr, layout.size()) {
            self.top.set(ptr as usize);
        }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        if self.is_last(ptr, layout.size()) {
            return match (ptr as usize).checked_add(new_size) {
                Some(end) if self.set_top(end) => ptr,
                _ => null_mut(),
            };
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: the caller guarantees `new_size`, rounded up to `layout.align()`, fits in
        // `isize`, which makes the layout valid.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: `new_layout` has a non-zero size (it is larger than the old one).
        let new = unsafe { self.alloc(new_layout) };
        if !new.is_null() {
            // SAFETY: the old block holds `layout.size()` bytes, the new one more, and a new block
            // never overlaps a live one.
            unsafe { ptr::copy_nonoverlapping(ptr, new, layout.size()) };
        }
        new
    }
}

/// The instance's linear memory, from the linker's `__heap_base` up.
#[cfg(target_arch = "wasm32")]
pub struct LinearMemory;

#[cfg(target_arch = "wasm32")]
impl Memory for LinearMemory {
    fn start(&self) -> usize {
        extern "C" {
            static __heap_base: u8;
        }
        // Only the symbol's address is taken (no read); the linker defines it for every module.
        ptr::addr_of!(__heap_base) as usize
    }

    fn end(&self) -> usize {
        core::arch::wasm32::memory_size(0) * PAGE
    }

    fn grow_to(&self, end: usize) -> bool {
        let pages = end
            .div_ceil(PAGE)
            .saturating_sub(core::arch::wasm32::memory_size(0));
        core::arch::wasm32::memory_grow(0, pages) != usize::MAX
    }
}

#[cfg(target_arch = "wasm32")]
const PAGE: usize = 65_536;

#[cfg(test)]
mod tests {
    use super::*;

    /// A fixed buffer that can "grow" up to its size, one 64-byte step at a time.
    struct Buffer {
        bytes: Box<[u8]>,
        available: Cell<usize>,
    }

    impl Memory for &Buffer {
        fn start(&self) -> usize {
            self.bytes.as_ptr() as usize
        }
        fn end(&self) -> usize {
            self.start() + self.available.get()
        }
        fn grow_to(&self, end: usize) -> bool {
            let wanted = (end - self.start()).div_ceil(64) * 64;
            if wanted > self.bytes.len() {
                return false;
            }
            self.available.set(wanted);
            true
        }
    }

    fn buffer(size: usize) -> Buffer {
        Buffer {
            bytes: vec![0; size].into_boxed_slice(),
            available: Cell::new(0),
        }
    }

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_disjoint_and_within_the_memory() {
        let memory = buffer(4096);
        let heap = Heap::new(&memory);
        let mut blocks: Vec<(usize, usize)> = Vec::new();
        for (size, align) in [(1, 1), (3, 2), (8, 8), (5, 1), (16, 16), (7, 4), (64, 32)] {
            let p = unsafe { heap.alloc(layout(size, align)) } as usize;
            assert_eq!(p % align, 0, "alignment {align}");
            assert!(p >= (&memory).start() && p + size <= (&memory).end());
            for &(q, n) in &blocks {
                assert!(p >= q + n || p + size <= q, "overlap");
            }
            blocks.push((p, size));
        }
    }

    #[test]
    fn the_last_block_is_taken_back_and_an_earlier_one_is_not() {
        let memory = buffer(4096);
        let heap = Heap::new(&memory);
        let a = unsafe { heap.alloc(layout(10, 1)) };
        let b = unsafe { heap.alloc(layout(10, 1)) };
        unsafe { heap.dealloc(b, layout(10, 1)) };
        assert_eq!(
            unsafe { heap.alloc(layout(10, 1)) },
            b,
            "the last block is reused"
        );
        unsafe { heap.dealloc(a, layout(10, 1)) };
        let c = unsafe { heap.alloc(layout(10, 1)) };
        assert!(
            c as usize >= b as usize + 10,
            "a block freed out of order is not reused"
        );
    }

    #[test]
    fn realloc_grows_the_last_block_in_place_and_moves_an_earlier_one_with_its_bytes() {
        let memory = buffer(4096);
        let heap = Heap::new(&memory);
        let a = unsafe { heap.alloc(layout(4, 1)) };
        unsafe { a.copy_from([1, 2, 3, 4].as_ptr(), 4) };
        let grown = unsafe { heap.realloc(a, layout(4, 1), 100) };
        assert_eq!(grown, a, "the last block grows in place");
        let b = unsafe { heap.alloc(layout(4, 1)) };
        let moved = unsafe { heap.realloc(a, layout(100, 1), 200) };
        assert!(
            moved as usize >= b as usize + 4,
            "an earlier block moves above the top"
        );
        assert_eq!(
            unsafe { core::slice::from_raw_parts(moved, 4) },
            [1, 2, 3, 4]
        );
        assert_eq!(
            unsafe { heap.realloc(b, layout(4, 1), 2) },
            b,
            "shrinking stays in place"
        );
    }

    #[test]
    fn an_allocation_beyond_the_memory_fails_and_leaves_the_heap_usable() {
        let memory = buffer(256);
        let heap = Heap::new(&memory);
        let a = unsafe { heap.alloc(layout(200, 1)) };
        assert!(!a.is_null());
        assert!(unsafe { heap.alloc(layout(100, 1)) }.is_null());
        assert!(unsafe { heap.realloc(a, layout(200, 1), 300) }.is_null());
        assert!(unsafe { heap.alloc(layout(isize::MAX as usize - 8, 1)) }.is_null());
        assert!(!unsafe { heap.alloc(layout(50, 1)) }.is_null());
    }
}
