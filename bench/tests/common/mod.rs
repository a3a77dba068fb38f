//! What the benchmark test suites share.

use std::path::PathBuf;

/// A directory of one test's own for its pools, removed with them when the test ends: the
/// tests run in parallel in one process, and `pmem-bench` names a pool after the process
/// and the workload only.
pub(crate) struct Scratch(pub(crate) PathBuf);

impl Scratch {
    /// The directory for test `test` of suite `suite`. It lies on tmpfs where there is
    /// one, where the default flush mode (msync) writes nothing back to a device.
    pub(crate) fn new(suite: &str, test: &str) -> Self {
        let path = pmem::scratch_directory()
            .join(format!("pmem-bench-{suite}-{}-{test}", std::process::id()));
        std::fs::create_dir_all(&path)
            .unwrap_or_else(|error| panic!("cannot create {}: {error}", path.display()));
        Self(path)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
