//! `pmem::inspect::compact`: moving a pool's live objects together into a smaller file.
//! The graph survives (the same signature, `pmem_tests::graph_signature`), the file
//! shrinks, the pool keeps its identity, the new file is whole (durable) before it is
//! renamed over the old one, and a crash at any fence of the new file leaves the old pool,
//! which the next compaction compacts.

use pmem::inspect::{UntypedPool, compact, compact_with, temporary_path};
use pmem::simulation::{ScratchFile, Simulation, seed};
use pmem::{Error, PPtr, PString, PVec, Persistent, Pool, PoolOptions, Txn};
use pmem_tests::graph_signature;

#[derive(Persistent, Debug, Default)]
#[repr(C)]
struct Catalog {
    head: PPtr<Entry>,
    len: u64,
    tags: PVec<u64>,
    title: PString,
    itself: PPtr<Catalog>,
}

#[derive(Persistent, Debug)]
#[repr(C)]
struct Entry {
    value: u64,
    name: PString,
    next: PPtr<Entry>,
    back: PPtr<Catalog>,
}

fn push(tx: &mut Txn<'_, Catalog>, value: u64) -> Result<(), Error> {
    let next = tx.root().head;
    let entry = tx.alloc(Entry {
        value,
        name: PString::from_str_in(&format!("entry {value}"))?,
        next,
        back: PPtr::from_offset(0),
    })?;
    let itself = tx.root_ptr();
    tx.get_mut(entry)?.back = itself;
    let mut root = tx.root_mut();
    root.head = entry;
    root.len += 1;
    Ok(())
}

/// Keeps every `keep`-th entry of the list and unlinks the rest.
fn thin(tx: &mut Txn<'_, Catalog>, keep: u64) -> Result<(), Error> {
    let mut at = tx.root().head;
    let mut previous = PPtr::<Entry>::null();
    let mut kept = 0;
    while !at.is_null() {
        let entry = tx.get(at)?;
        let (value, next) = (entry.value, entry.next);
        if value % keep == 0 {
            if !previous.is_null() {
                tx.get_mut(previous)?.next = at;
            } else {
                tx.root_mut().head = at;
            }
            previous = at;
            kept += 1;
        }
        at = next;
    }
    if previous.is_null() {
        tx.root_mut().head = PPtr::null();
    } else {
        tx.get_mut(previous)?.next = PPtr::null();
    }
    tx.root_mut().len = kept;
    Ok(())
}

/// A pool of `entries` entries, thinned to every `keep`-th, with a vector, a string, a
/// pointer into the root and named roots; closed.
fn catalog(path: &ScratchFile, options: PoolOptions, entries: u64, keep: u64) {
    let mut pool = options
        .create(path.path(), Catalog::default())
        .expect("create");
    pool.try_txn(|tx| {
        let itself = tx.root_ptr();
        tx.root_mut().itself = itself;
        tx.root_mut().title = PString::from_str_in("the catalog")?;
        tx.root_mut().tags.extend(0..100)?;
        for value in 0..entries {
            push(tx, value)?;
        }
        let head = tx.root().head;
        tx.set_named_root("first", head)?;
        tx.set_named_root("catalog", itself)
    })
    .expect("fill");
    pool.try_txn(|tx| thin(tx, keep)).expect("thin");
    pool.collect().expect("collect");
    pool.close();
}

fn values(path: &ScratchFile) -> Vec<(u64, String)> {
    let pool = Pool::<Catalog>::open(path.path()).expect("typed open");
    let mut found = Vec::new();
    let mut at = pool.root().head;
    while !at.is_null() {
        let entry = pool.get(at).expect("entry");
        assert_eq!(entry.back, pool.root_ptr());
        found.push((
            entry.value,
            entry.name.as_str(&pool).expect("name").to_owned(),
        ));
        at = entry.next;
    }
    assert_eq!(
        pool.root().title.as_str(&pool).expect("title"),
        "the catalog"
    );
    assert_eq!(
        pool.root().tags.as_slice(&pool).expect("tags"),
        (0..100).collect::<Vec<_>>()
    );
    assert_eq!(pool.root().itself, pool.root_ptr());
    found
}

#[test]
fn compaction_shrinks_a_pool_whose_live_data_dropped_to_a_tenth_and_keeps_its_graph() {
    let path = ScratchFile::new("compact-shrink");
    catalog(&path, PoolOptions::new().size(1 << 20), 150_000, 10);
    let before = graph_signature(path.path());
    let values_before = values(&path);
    assert_eq!(values_before.len(), 15_000);
    let uuid = UntypedPool::open_read_only(path.path())
        .expect("open")
        .info()
        .uuid;
    let size_before = std::fs::metadata(path.path()).expect("metadata").len();

    let report = compact(path.path()).expect("compact");
    let size_after = std::fs::metadata(path.path()).expect("metadata").len();
    eprintln!("{size_before} bytes compacted to {size_after}");
    assert_eq!(report.size_before, size_before);
    assert_eq!(report.size_after, size_after);
    assert!(
        size_after * 6 < size_before,
        "compaction left {size_after} of {size_before} bytes"
    );
    // The named root "first" still holds the head before thinning, 149,999, and through
    // it the nine unlinked entries down to 149,990, which the list keeps.
    assert_eq!(
        report.objects,
        2 + 2 * 15_009,
        "vector, title, entries and names"
    );
    assert_eq!(graph_signature(path.path()), before);
    assert_eq!(values(&path), values_before);
    let after = UntypedPool::open_read_only(path.path()).expect("open");
    assert_eq!(after.info().uuid, uuid, "the pool keeps its identity");
    assert!(pmem_tests::compaction_leftovers(path.path()).is_empty());
    drop(after);

    let mut pool = Pool::<Catalog>::open(path.path()).expect("open to write");
    pool.try_txn(|tx| push(tx, 1_000_000))
        .expect("a transaction after compaction");
    drop(pool);
    assert_eq!(values(&path)[0].0, 1_000_000);
}

#[test]
fn a_pool_with_a_dangling_pointer_is_refused_and_left_as_it_was() {
    let path = ScratchFile::new("compact-dangling");
    catalog(&path, PoolOptions::new().size(1 << 20), 10, 2);
    let mut pool = Pool::<Catalog>::open(path.path()).expect("open");
    pool.txn(|tx| tx.root_mut().head = PPtr::from_offset(0x10_0008));
    pool.close();
    let before = path.contents();
    let error = compact(path.path()).expect_err("refused");
    assert!(matches!(error, Error::CannotCompact { .. }), "{error}");
    assert!(
        path.contents() == before,
        "a refused compaction wrote the file"
    );
    assert!(pmem_tests::compaction_leftovers(path.path()).is_empty());
}

#[test]
fn an_open_pool_is_not_compacted() {
    let path = ScratchFile::new("compact-locked");
    catalog(&path, PoolOptions::new().size(1 << 20), 10, 2);
    let pool = Pool::<Catalog>::open(path.path()).expect("open");
    assert!(matches!(compact(path.path()), Err(Error::Locked { .. })));
    drop(pool);
}

#[test]
fn a_crash_at_any_fence_of_a_compaction_leaves_the_old_pool_and_the_next_one_finishes() {
    let path = ScratchFile::new("compact-crash");
    catalog(
        &path,
        PoolOptions::new().size(1 << 20).log_size(1 << 13),
        300,
        7,
    );
    let before = graph_signature(path.path());
    let uuid = UntypedPool::open_read_only(path.path())
        .expect("open")
        .info()
        .uuid;
    // The old pool's file, as compaction leaves it: still linked here after the rename.
    let old = ScratchFile::new("compact-crash-old");
    std::fs::hard_link(path.path(), old.path()).expect("link");

    let simulation = Simulation::new();
    simulation.capture(true);
    compact_with(path.path(), &PoolOptions::new().simulation(&simulation)).expect("compact");
    simulation.capture(false);
    assert_eq!(graph_signature(path.path()), before, "after the rename");
    assert!(simulation.lints().is_empty(), "{:?}", simulation.lints());
    let points = simulation.take_crash_points();
    assert!(points.len() >= 5, "{} fences", points.len());

    // What the new file holds when it is renamed: the durable image at the last fence,
    // the close's, with nothing evicted. Everything compaction copied must be in it.
    let last = points.last().expect("a fence");
    let renamed = ScratchFile::new("compact-crash-renamed");
    std::fs::write(renamed.path(), last.durable()).expect("write the image");
    assert_eq!(
        graph_signature(renamed.path()),
        before,
        "the new file is not whole when it is renamed"
    );

    let old_bytes = old.contents();
    let mut images = 0;
    for point in &points {
        for image in point.images(3, seed()) {
            // What the directory holds after a crash at this fence: the old pool, still
            // named by its path, and this image of the new file beside it.
            let crashed = ScratchFile::new("compact-crashed");
            let leftover = temporary_path(crashed.path(), uuid);
            std::fs::write(crashed.path(), &old_bytes).expect("write the old pool");
            std::fs::write(&leftover, &image.bytes).expect("write the leftover");
            assert_eq!(
                graph_signature(crashed.path()),
                before,
                "{}: the old pool",
                image.description
            );
            compact(crashed.path()).unwrap_or_else(|error| {
                panic!("{}: the next compaction failed: {error}", image.description)
            });
            assert_eq!(
                graph_signature(crashed.path()),
                before,
                "{}",
                image.description
            );
            assert!(!leftover.exists(), "{}: leftover kept", image.description);
            images += 1;
        }
    }
    println!("compaction: {} crash points, {images} images", points.len());
    assert!(images >= points.len());
}
