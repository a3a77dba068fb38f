//! Creating, closing and reopening pools; roots, pointers, info, flush modes and counters.

use pmem::simulation::ScratchFile;
use pmem::{Error, FlushMode, PPtr, Pool, PoolOptions, Stats};
use pmem_tests::Ledger;

fn create_sample(path: &ScratchFile) -> Pool<Ledger> {
    let home = PPtr::from_offset(4096);
    PoolOptions::new()
        .layout("ledger-v1")
        .size(1 << 20)
        .log_size(1 << 16)
        .create(path.path(), Ledger::sample(home))
        .expect("create")
}

#[test]
fn reopening_after_close_finds_the_root_intact() {
    let path = ScratchFile::new("reopen");
    let pool = create_sample(&path);
    assert_eq!(pool.root_ptr(), pool.root().home);
    pool.close();

    let pool = Pool::<Ledger>::open(path.path()).expect("reopen");
    assert_eq!(*pool.root(), Ledger::sample(PPtr::from_offset(4096)));
    let info = pool.info();
    assert_eq!(info.layout, "ledger-v1");
    assert!(info.root_type.ends_with("Ledger"), "{}", info.root_type);
    assert_eq!(info.size, 1 << 20);
    assert!(info.previous_shutdown_clean);
    drop(pool);

    let pool = PoolOptions::new()
        .layout("ledger-v1")
        .open::<Ledger>(path.path())
        .expect("again");
    assert_eq!(pool.root().balances, [100, 200, 300, 400]);
}

#[test]
fn a_persistent_pointer_resolves_wherever_the_pool_is_mapped() {
    let path = ScratchFile::new("relocate");
    drop(create_sample(&path));
    // Keep an earlier mapping alive so the next one cannot land at the same address.
    let other_path = ScratchFile::new("relocate-other");
    let other = create_sample(&other_path);
    let pool = Pool::<Ledger>::open(path.path()).expect("open");
    let root: &Ledger = pool.root();
    let through_pointer = pool.get(root.home).expect("valid pointer");
    assert!(std::ptr::eq(root, through_pointer));
    assert!(!std::ptr::eq(root, other.root()));
}

#[test]
fn size_is_rounded_up_to_pages_and_covers_the_root_and_the_log() {
    let path = ScratchFile::new("tiny");
    let pool = PoolOptions::new()
        .size(1)
        .log_size(5000)
        .create(path.path(), [7u64; 1000])
        .expect("create");
    // The header page, the root's 8000 bytes in two pages, the log's 5000 in two, and the
    // smallest heap: three pages of metadata, a page table and one data page.
    let expected = 4096 + 8192 + 8192 + 5 * 4096;
    assert_eq!(pool.info().size, expected);
    assert_eq!(
        std::fs::metadata(path.path()).expect("metadata").len(),
        expected
    );
    assert_eq!(pool.root()[999], 7);
}

#[test]
fn the_uuid_is_random_version_4_and_kept_across_opens() {
    let (first, second) = (ScratchFile::new("uuid-a"), ScratchFile::new("uuid-b"));
    let uuid = create_sample(&first).info().uuid;
    assert_ne!(uuid, create_sample(&second).info().uuid);
    assert_eq!(uuid.0[6] >> 4, 4);
    assert_eq!(
        Pool::<Ledger>::open(first.path())
            .expect("open")
            .info()
            .uuid,
        uuid
    );
    let text = uuid.to_string();
    assert_eq!(text.len(), 36);
    assert_eq!(text.matches('-').count(), 4);
}

#[test]
fn off_dax_the_default_mode_is_msync() {
    if std::env::var_os("PMEM_FLUSH").is_some() {
        return;
    }
    let path = ScratchFile::new("default-mode");
    let pool = create_sample(&path);
    if !pool.info().dax {
        assert_eq!(pool.info().flush_mode, FlushMode::Msync);
    }
}

#[test]
fn every_supported_mode_creates_and_reopens() {
    for mode in [
        FlushMode::Clwb,
        FlushMode::Clflushopt,
        FlushMode::Clflush,
        FlushMode::Eadr,
        FlushMode::Msync,
        FlushMode::None,
    ] {
        let path = ScratchFile::new(mode.name());
        let options = PoolOptions::new().size(1 << 16).flush_mode(mode);
        if !mode.is_supported() {
            assert!(matches!(
                options.create(path.path(), 5u64),
                Err(Error::UnsupportedFlushMode { mode: refused }) if refused == mode
            ));
            assert!(!path.path().exists(), "a refused create left a file behind");
            continue;
        }
        let pool = options.create(path.path(), 5u64).expect("create");
        assert_eq!(pool.info().flush_mode, mode);
        drop(pool);
        let pool = options.open::<u64>(path.path()).expect("open");
        assert_eq!((*pool.root(), pool.info().flush_mode), (5, mode));
    }
}

#[test]
fn create_open_and_close_cost_a_fixed_number_of_flushes_and_fences() {
    let path = ScratchFile::new("counters");
    let before = Stats::current_thread();
    let pool = PoolOptions::new()
        .flush_mode(FlushMode::None)
        .create(path.path(), [0u64; 64]);
    let created = Stats::current_thread() - before;
    drop(pool.expect("create"));
    // The root's 8 lines, the heap's header and root-type record (one line each) and a
    // fence (a type's record is durable before any span names it), the header page's 64,
    // then a fence; the magic's line, a fence.
    assert_eq!((created.lines_flushed, created.fences), (8 + 2 + 64 + 1, 3));
    std::fs::remove_file(path.path()).expect("remove");
    drop(create_sample(&path));
    for mode in [FlushMode::Msync, FlushMode::None] {
        let options = PoolOptions::new().flush_mode(mode);
        let before = Stats::current_thread();
        let pool = options.open::<Ledger>(path.path()).expect("open");
        let opened = Stats::current_thread() - before;
        assert_eq!(
            (opened.lines_flushed, opened.fences),
            (1, 1),
            "open in {mode}"
        );
        assert_eq!(
            opened.msyncs,
            u64::from(mode == FlushMode::Msync),
            "open in {mode}"
        );
        let before = Stats::current_thread();
        pool.close();
        let closed = Stats::current_thread() - before;
        assert_eq!(
            (closed.lines_flushed, closed.fences),
            (1, 1),
            "close in {mode}"
        );
    }
}

#[test]
fn get_refuses_pointers_that_do_not_point_at_an_object() {
    let path = ScratchFile::new("pointers");
    let pool = create_sample(&path);
    let cases: [(u64, &str); 4] = [
        (0, "null"),
        (4097, "not aligned"),
        (64, "outside the pool's data"),
        ((1 << 20) - 8, "outside the pool's data"),
    ];
    for (offset, reason) in cases {
        match pool.get(PPtr::<Ledger>::from_offset(offset)) {
            Err(error @ Error::InvalidPointer { .. }) => {
                assert!(error.to_string().contains(reason), "{offset:#x}: {error}");
            }
            other => panic!("{offset:#x}: expected InvalidPointer, got {other:?}"),
        }
    }
    let last_word = PPtr::<u64>::from_offset((1 << 20) - 8);
    match pool.get(last_word) {
        Err(error @ Error::InvalidPointer { .. }) => {
            assert!(
                error.to_string().contains("no allocated heap object"),
                "{error}"
            );
        }
        other => panic!("a heap word that is no object: got {other:?}"),
    }
}

#[test]
fn info_says_how_the_pool_is_flushed() {
    let path = ScratchFile::new("info");
    let pool = create_sample(&path);
    let text = pool.info().to_string();
    assert!(
        text.contains(&format!("flush mode  {}", pool.info().flush_mode)),
        "{text}"
    );
    assert!(text.contains("layout      \"ledger-v1\""), "{text}");
}

#[test]
fn pools_can_be_shared_between_threads() {
    fn shareable<T: Send + Sync>(_: &T) {}
    let path = ScratchFile::new("threads");
    let pool = create_sample(&path);
    shareable(&pool);
    let sums: Vec<u64> = std::thread::scope(|scope| {
        let readers: Vec<_> = (0..2)
            .map(|_| scope.spawn(|| pool.root().balances.iter().sum::<u64>()))
            .collect();
        readers
            .into_iter()
            .map(|reader| reader.join().expect("reader"))
            .collect()
    });
    assert_eq!(sums, [1000, 1000]);
}

#[test]
fn get_refuses_types_aligned_beyond_a_page() {
    #[derive(pmem::Persistent)]
    #[repr(C, align(8192))]
    struct OverAligned([u64; 1024]);

    let path = ScratchFile::new("over-aligned");
    let pool = create_sample(&path);
    match pool.get(PPtr::<OverAligned>::from_offset(8192)) {
        Err(error @ Error::InvalidPointer { .. }) => {
            assert!(error.to_string().contains("exceeds 4096"), "{error}");
        }
        other => panic!("expected InvalidPointer, got {:?}", other.map(|_| ())),
    }
}

#[test]
fn open_or_create_creates_once_then_opens_and_refuses_what_is_not_a_pool() {
    let file = ScratchFile::new("lifecycle-open-or-create");
    std::fs::remove_file(file.path()).ok();
    let mut pool = Pool::open_or_create(file.path(), || 7u64).expect("created");
    assert_eq!(*pool.root(), 7);
    pool.txn(|tx| *tx.root_mut() = 8);
    drop(pool);
    let pool =
        Pool::open_or_create(file.path(), || -> u64 { panic!("the pool exists") }).expect("opened");
    assert_eq!(*pool.root(), 8);
    drop(pool);
    std::fs::write(file.path(), b"not a pool").expect("write");
    assert!(matches!(
        Pool::open_or_create(file.path(), || 0u64),
        Err(Error::NotAPool { .. } | Error::Truncated { .. })
    ));
    assert_eq!(std::fs::read(file.path()).expect("read"), b"not a pool");
}
