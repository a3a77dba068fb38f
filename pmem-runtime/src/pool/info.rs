//! What a pool is: [`PoolInfo`] and [`PoolUuid`].

use std::fmt;
use std::path::PathBuf;
use std::time::SystemTime;

use pmem_alloc::Collection;

use crate::hw::flush::FlushMode;

/// What a pool is and how it is used, from [`Pool::info`](super::Pool::info).
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolInfo {
    /// The pool file.
    pub path: PathBuf,
    /// The pool's identity, chosen at random at creation.
    pub uuid: PoolUuid,
    /// When the pool was created.
    pub created: SystemTime,
    /// The layout name given at creation (empty if none was).
    pub layout: String,
    /// The root type's name as recorded at creation.
    pub root_type: String,
    /// The pool's size in bytes.
    pub size: u64,
    /// How many transactions can run at once: the pool's log slots (lanes), set at
    /// creation ([`PoolOptions::lanes`](super::PoolOptions::lanes)).
    pub lanes: u32,
    /// How stores are made durable.
    pub flush_mode: FlushMode,
    /// Whether the file is mapped synchronously from a DAX file system (`MAP_SYNC`). If not,
    /// durability comes from `msync` (or from nowhere, under a forced cache-line mode).
    pub dax: bool,
    /// Whether the pool was closed cleanly before this open (true for a new pool). False
    /// means the last process using it crashed or was killed.
    pub previous_shutdown_clean: bool,
    /// How many unfinished transactions recovery rolled back when the pool was opened.
    pub transactions_rolled_back: u32,
    /// What the collection at open found, if one ran
    /// ([`PoolOptions::collect_at_open`](super::PoolOptions::collect_at_open); all zeros for a
    /// new pool); `None` if the first collection was left for later.
    pub collection_at_open: Option<Collection>,
}

impl fmt::Display for PoolInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "pool        {}", self.path.display())?;
        writeln!(f, "uuid        {}", self.uuid)?;
        writeln!(f, "layout      {:?}", self.layout)?;
        writeln!(f, "root type   {}", self.root_type)?;
        writeln!(f, "size        {} bytes", self.size)?;
        writeln!(f, "lanes       {}", self.lanes)?;
        writeln!(
            f,
            "mapping     {}",
            if self.dax {
                "DAX (MAP_SYNC)"
            } else {
                "page cache"
            }
        )?;
        writeln!(f, "flush mode  {}", self.flush_mode)?;
        write!(
            f,
            "rolled back {} unfinished transaction(s) at open\nlast close  {}",
            self.transactions_rolled_back,
            if self.previous_shutdown_clean {
                "clean"
            } else {
                "unclean"
            }
        )
    }
}

/// A pool's 128-bit identity (a random version-4 UUID).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct PoolUuid(pub [u8; 16]);

impl fmt::Display for PoolUuid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (index, byte) in self.0.iter().enumerate() {
            if matches!(index, 4 | 6 | 8 | 10) {
                f.write_str("-")?;
            }
            write!(f, "{byte:02x}")?;
        }
        Ok(())
    }
}
