//! The pool file as the operating system sees it: its lock, its storage, a new pool's UUID,
//! the durability of its directory entry, and removing a file that `create` did not finish.

use std::fs::File;
use std::io;
use std::os::fd::AsRawFd;
use std::path::{Path, PathBuf};

use crate::error::Error;

/// Where pools that need not survive a reboot go (tests, benchmarks, examples): `/dev/shm`
/// where it exists, DRAM-backed and fast, else the temporary directory.
#[must_use]
pub fn scratch_directory() -> PathBuf {
    let shm = Path::new("/dev/shm");
    if shm.is_dir() {
        shm.to_path_buf()
    } else {
        std::env::temp_dir()
    }
}

/// Takes the file's exclusive lock without waiting.
pub(crate) fn lock(file: &File, path: &Path) -> Result<(), Error> {
    flock(file, path, libc::LOCK_EX)
}

/// Takes a shared lock on the file without waiting: readers that write nothing (a pool
/// tool's `info` or `check`) may hold it together, and no writer can open the pool
/// meanwhile, nor can one be open.
pub(crate) fn lock_shared(file: &File, path: &Path) -> Result<(), Error> {
    flock(file, path, libc::LOCK_SH)
}

fn flock(file: &File, path: &Path, kind: libc::c_int) -> Result<(), Error> {
    // SAFETY: flock on a file descriptor we own has no memory-safety preconditions.
    if unsafe { libc::flock(file.as_raw_fd(), kind | libc::LOCK_NB) } == 0 {
        return Ok(());
    }
    let error = io::Error::last_os_error();
    if error.kind() == io::ErrorKind::WouldBlock {
        Err(Error::Locked {
            path: path.to_owned(),
        })
    } else {
        Err(Error::Io {
            path: path.to_owned(),
            operation: "lock",
            source: error,
        })
    }
}

/// Gives the file `len` bytes of real storage, so that a full file system is an error now
/// rather than a SIGBUS at some later store.
pub(crate) fn allocate(file: &File, len: u64) -> io::Result<()> {
    let len =
        libc::off_t::try_from(len).map_err(|_| io::Error::from(io::ErrorKind::InvalidInput))?;
    // SAFETY: posix_fallocate on a file descriptor we own has no memory-safety preconditions.
    match unsafe { libc::posix_fallocate(file.as_raw_fd(), 0, len) } {
        0 => Ok(()),
        errno => Err(io::Error::from_raw_os_error(errno)),
    }
}

/// A new random version-4 UUID, from the kernel's random source.
pub(crate) fn new_uuid() -> io::Result<[u8; 16]> {
    let mut uuid = [0u8; 16];
    let mut filled = 0;
    while filled < uuid.len() {
        let remaining = &mut uuid[filled..];
        // SAFETY: the buffer is valid for writes of `remaining.len()` bytes.
        let read = unsafe { libc::getrandom(remaining.as_mut_ptr().cast(), remaining.len(), 0) };
        match usize::try_from(read) {
            Ok(read) => filled += read,
            Err(_) => {
                let error = io::Error::last_os_error();
                if error.kind() != io::ErrorKind::Interrupted {
                    return Err(error);
                }
            }
        }
    }
    uuid[6] = (uuid[6] & 0x0f) | 0x40;
    uuid[8] = (uuid[8] & 0x3f) | 0x80;
    Ok(uuid)
}

/// Makes the directory entry of `path` durable (a new pool's name survives a crash).
pub(crate) fn sync_parent_directory(path: &Path) -> io::Result<()> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(parent)?.sync_all()
}

/// Removes the file at `path` when dropped, unless disarmed: undoes a failed `create`.
pub(crate) struct RemoveOnError<'a> {
    pub(crate) path: &'a Path,
    pub(crate) armed: bool,
}

impl Drop for RemoveOnError<'_> {
    fn drop(&mut self) {
        if self.armed {
            let _ = std::fs::remove_file(self.path);
        }
    }
}
