//! Mapping a pool file into the address space.
//!
//! A pool is mapped in two steps. First an address range as large as the pool may ever
//! grow is *reserved*: an anonymous `PROT_NONE` mapping that costs no memory. Then the file
//! is mapped over the start of that range with `MAP_FIXED`. Growing the pool later maps
//! more of the file into the same reservation, so the pool's base address never changes
//! while it is open.
//!
//! A one-page probe mapping first asks for `MAP_SHARED_VALIDATE | MAP_SYNC`, which the kernel
//! grants only for files on a DAX file system (persistent memory mapped directly, with the
//! file system's metadata kept durable on page faults). Then stores reach persistent memory
//! through the CPU cache, and cache-line flushes make them durable. Anywhere else (an SSD,
//! tmpfs) the mapping falls back to a plain `MAP_SHARED`, whose pages reach the file only
//! through `msync`.
//!
//! The calls are made through `libc`, not `memmap2` (checked against 0.9.12), because
//! `memmap2` cannot express this scheme:
//!
//! - it has no way to say *where* to map: every map it makes passes a null address, so there
//!   is no `MAP_FIXED` mapping over a reservation, and no way to adopt one made elsewhere;
//! - its flags are fixed per constructor (`MAP_SHARED` or `MAP_PRIVATE`, plus the
//!   `populate`, `no_reserve_swap`, `stack` and `huge` options), so there is no
//!   `MAP_SHARED_VALIDATE | MAP_SYNC`, neither for the DAX probe nor for the mapping;
//! - an anonymous map is always readable and writable: no `PROT_NONE` reservation;
//! - its `remap` is `mremap(2)`, which grows in place only into free address space (the
//!   reservation is exactly what keeps that space from being free), or else moves the base.
//!
//! What it could do here (a `MAP_PRIVATE` copy, `msync` of a range) would split one mapping
//! between two owners without removing any of the code above, so none of it is used.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::ptr::NonNull;
use std::sync::atomic::{AtomicUsize, Ordering};

/// A pool file mapped into a reserved address range.
pub(crate) struct Mapping {
    base: NonNull<u8>,
    reserved_len: usize,
    /// Grows (never shrinks) while the pool is open; see [`Mapping::grow`].
    mapped_len: AtomicUsize,
    dax: bool,
    /// Copy-on-write: see [`Mapping::map`].
    private: bool,
}

// SAFETY: `Mapping` owns its address range exclusively (it unmaps it on drop) and hands out
// only addresses; synchronising accesses through them is the job of the code that uses them.
unsafe impl Send for Mapping {}
// SAFETY: as for `Send`; `&Mapping` only reads the immutable fields and calls `msync`, which
// the kernel serialises.
unsafe impl Sync for Mapping {}

impl Mapping {
    /// Reserves `reserve_len` bytes of address space and maps the first `len` bytes of
    /// `file` at its start.
    ///
    /// A `private` mapping is copy-on-write: stores stay in this process and never reach the
    /// file (for opening crash images, which must stay as the crash left them).
    pub(crate) fn map(
        file: &File,
        len: usize,
        reserve_len: usize,
        private: bool,
    ) -> io::Result<Self> {
        let page = page_size();
        if len == 0 || len % page != 0 || reserve_len < len {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        let reserve_len = reserve_len
            .checked_next_multiple_of(page)
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        // SAFETY: a fresh anonymous mapping at an address of the kernel's choosing touches no
        // existing memory.
        let reserved = unsafe {
            libc::mmap(
                std::ptr::null_mut(),
                reserve_len,
                libc::PROT_NONE,
                libc::MAP_PRIVATE | libc::MAP_ANONYMOUS | libc::MAP_NORESERVE,
                -1,
                0,
            )
        };
        if reserved == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        let base = NonNull::new(reserved.cast::<u8>()).expect("mmap never returns null on success");
        let mut mapping = Self {
            base,
            reserved_len: reserve_len,
            mapped_len: AtomicUsize::new(0),
            dax: false,
            private,
        };
        mapping.dax = !private && supports_sync_mapping(file, page)?;
        mapping.map_file_range(file, 0, len)?;
        mapping.mapped_len = AtomicUsize::new(len);
        Ok(mapping)
    }

    /// Maps `file` up to `new_len` bytes, in place: the file must already be that long.
    /// Addresses of the mapped part do not change.
    pub(crate) fn grow(&self, file: &File, new_len: usize) -> io::Result<()> {
        let old_len = self.mapped_len();
        if new_len <= old_len {
            return Ok(());
        }
        if new_len > self.reserved_len || new_len % page_size() != 0 {
            return Err(io::Error::from(io::ErrorKind::InvalidInput));
        }
        self.map_file_range(file, old_len, new_len - old_len)?;
        self.mapped_len.store(new_len, Ordering::Release);
        Ok(())
    }

    /// How many bytes the mapping may grow to.
    pub(crate) fn reserved_len(&self) -> usize {
        self.reserved_len
    }

    /// Maps `file[offset .. offset + len]` over the reservation at the same offset,
    /// synchronously if the file supports it.
    fn map_file_range(&self, file: &File, offset: usize, len: usize) -> io::Result<()> {
        assert!(
            offset + len <= self.reserved_len,
            "file range outside the reservation"
        );
        let address = self.address_of(offset).cast_mut().cast::<libc::c_void>();
        let file_offset = libc::off_t::try_from(offset)
            .map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
        let sharing = if self.private {
            libc::MAP_PRIVATE
        } else {
            shared_flags(self.dax)
        };
        let flags = libc::MAP_FIXED | sharing;
        // SAFETY: the target range lies inside our own reservation (asserted above), so
        // MAP_FIXED replaces only pages this mapping owns and nothing else references. The
        // flags were probed to succeed, so the call does not fail after the kernel has
        // unmapped the old pages (which would open a gap another thread could map into).
        let mapped = unsafe {
            libc::mmap(
                address,
                len,
                PROTECTION,
                flags,
                file.as_raw_fd(),
                file_offset,
            )
        };
        if mapped == libc::MAP_FAILED {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// The address of the byte at `offset` from the pool's start.
    pub(crate) fn address_of(&self, offset: usize) -> *const u8 {
        debug_assert!(offset <= self.reserved_len);
        self.base.as_ptr().wrapping_add(offset)
    }

    /// How many bytes of the file are mapped.
    pub(crate) fn mapped_len(&self) -> usize {
        self.mapped_len.load(Ordering::Acquire)
    }

    /// Whether the file is mapped synchronously (DAX, `MAP_SYNC`).
    pub(crate) fn is_dax(&self) -> bool {
        self.dax
    }

    /// Copies `bytes` into the pool at `offset`.
    ///
    /// # Safety
    ///
    /// No reference may point into `[offset, offset + bytes.len())`.
    ///
    /// # Panics
    ///
    /// If the range is not inside the mapped file.
    pub(crate) unsafe fn write(&self, offset: usize, bytes: &[u8]) {
        self.assert_mapped(offset, bytes.len());
        // SAFETY: the destination is mapped (asserted) and unreferenced (the caller's
        // contract); the source is ordinary memory, so the two cannot overlap.
        unsafe {
            core::ptr::copy_nonoverlapping(
                bytes.as_ptr(),
                self.address_of(offset).cast_mut(),
                bytes.len(),
            );
        }
    }

    /// Stores `word` at `offset` as one aligned 8-byte write, the unit the hardware persists
    /// atomically: the commit points of the file format and the log use it.
    ///
    /// # Safety
    ///
    /// No reference may point into the eight bytes.
    ///
    /// # Panics
    ///
    /// If `offset` is not a multiple of 8 or the word is not inside the mapped file.
    pub(crate) unsafe fn store_word(&self, offset: usize, word: [u8; 8]) {
        assert!(
            offset % 8 == 0,
            "an atomic word store at unaligned offset {offset}"
        );
        self.assert_mapped(offset, 8);
        // SAFETY: the base is page-aligned and `offset` a multiple of 8, so the address is
        // aligned for `u64`; it is mapped (asserted) and unreferenced (the caller's contract).
        unsafe {
            self.address_of(offset)
                .cast_mut()
                .cast::<u64>()
                .write_volatile(u64::from_ne_bytes(word));
        }
    }

    /// Copies `len` bytes of the pool from offset `from` to offset `to`.
    ///
    /// # Safety
    ///
    /// No reference may point into the destination range.
    ///
    /// # Panics
    ///
    /// If either range is not inside the mapped file, or the two overlap.
    pub(crate) unsafe fn copy_within(&self, from: usize, to: usize, len: usize) {
        self.assert_mapped(from, len);
        self.assert_mapped(to, len);
        assert!(
            from + len <= to || to + len <= from,
            "overlapping copy within the pool"
        );
        // SAFETY: both ranges are mapped and disjoint (asserted); the destination is
        // unreferenced (the caller's contract), and raw pointers make no reference to the
        // source, which user code may hold borrowed.
        unsafe {
            core::ptr::copy_nonoverlapping(
                self.address_of(from),
                self.address_of(to).cast_mut(),
                len,
            );
        }
    }

    fn assert_mapped(&self, offset: usize, len: usize) {
        assert!(
            offset
                .checked_add(len)
                .is_some_and(|end| end <= self.mapped_len()),
            "{len} bytes at offset {offset} lie outside the mapped pool"
        );
    }

    /// Writes the pages holding `[offset, offset + len)` back to the file and waits.
    ///
    /// # Panics
    ///
    /// If `msync` fails: the kernel only refuses an unmapped or misaligned range, which is a
    /// bug here, or reports an I/O error of the device, after which the durability the caller
    /// is about to promise cannot be given.
    pub(crate) fn msync(&self, offset: usize, len: usize) {
        let page = page_size();
        let start = offset / page * page;
        let end = (offset + len).next_multiple_of(page).min(self.mapped_len());
        // SAFETY: `[start, end)` is page aligned and inside the mapped file range.
        let result = unsafe {
            libc::msync(
                self.address_of(start).cast_mut().cast(),
                end - start,
                libc::MS_SYNC,
            )
        };
        assert!(
            result == 0,
            "msync of a mapped pool range failed: {}",
            io::Error::last_os_error()
        );
    }
}

impl Drop for Mapping {
    fn drop(&mut self) {
        // SAFETY: the range is the reservation this mapping created and owns; every
        // reference into it borrows the pool that owns this mapping, so none outlives it.
        unsafe { libc::munmap(self.base.as_ptr().cast(), self.reserved_len) };
    }
}

const PROTECTION: libc::c_int = libc::PROT_READ | libc::PROT_WRITE;

fn shared_flags(dax: bool) -> libc::c_int {
    if dax {
        libc::MAP_SHARED_VALIDATE | libc::MAP_SYNC
    } else {
        libc::MAP_SHARED
    }
}

/// Whether the kernel grants `file` a synchronous (`MAP_SYNC`) mapping, found by mapping its
/// first page at an address of the kernel's choosing and unmapping it again. A refused
/// `MAP_SYNC` with `MAP_FIXED` may fail only after the old pages are gone, so the choice is
/// made here, away from the reservation.
fn supports_sync_mapping(file: &File, page: usize) -> io::Result<bool> {
    probe_sync_mapping(file, page, PROTECTION)
}

/// Whether the kernel would grant `file`, which may be open read-only, a synchronous
/// mapping: for a tool that reports how a program would map it.
pub(crate) fn supports_sync_mapping_of(file: &File) -> io::Result<bool> {
    probe_sync_mapping(file, page_size(), libc::PROT_READ)
}

fn probe_sync_mapping(file: &File, page: usize, protection: libc::c_int) -> io::Result<bool> {
    // SAFETY: a fresh mapping at an address of the kernel's choosing touches no existing
    // memory.
    let probe = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            page,
            protection,
            shared_flags(true),
            file.as_raw_fd(),
            0,
        )
    };
    if probe == libc::MAP_FAILED {
        let error = io::Error::last_os_error();
        // EOPNOTSUPP: not a DAX file; EINVAL: a kernel without MAP_SHARED_VALIDATE.
        return match error.raw_os_error() {
            Some(libc::EOPNOTSUPP | libc::EINVAL) => Ok(false),
            _ => Err(error),
        };
    }
    // SAFETY: `probe` is the page-sized mapping made just above, referenced by nothing.
    unsafe { libc::munmap(probe, page) };
    Ok(true)
}

/// The size of a virtual-memory page.
pub(crate) fn page_size() -> usize {
    // SAFETY: sysconf has no preconditions.
    let size = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    usize::try_from(size).unwrap_or(4096)
}
