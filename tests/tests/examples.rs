//! The examples, run: each one's code is compiled into this test and driven as its
//! `main` would be, so an example that stops working fails `cargo test`.

use pmem::simulation::ScratchFile;

#[allow(
    dead_code,
    reason = "`main` and its argument parsing are the command line's"
)]
#[path = "../../examples/kv.rs"]
mod kv;

fn kv(file: &ScratchFile, command: &str) -> Result<String, String> {
    let words: Vec<String> = command.split(' ').map(str::to_owned).collect();
    kv::run(file.path(), &words).map_err(|failure| failure.to_string())
}

#[test]
fn the_kv_store_keeps_its_entries_from_run_to_run() {
    let file = ScratchFile::new("example-kv");
    assert_eq!(
        kv(&file, "get missing"),
        Ok("(none)\n".to_owned()),
        "created empty"
    );
    assert_eq!(kv(&file, "put greeting hello"), Ok("added\n".to_owned()));
    assert_eq!(kv(&file, "put answer 42"), Ok("added\n".to_owned()));
    assert_eq!(kv(&file, "put greeting bye"), Ok("replaced\n".to_owned()));
    assert_eq!(kv(&file, "get greeting"), Ok("bye\n".to_owned()));
    assert_eq!(
        kv(&file, "list"),
        Ok("answer\t42\ngreeting\tbye\n".to_owned())
    );
    assert_eq!(kv(&file, "del answer"), Ok("deleted\n".to_owned()));
    assert_eq!(kv(&file, "del answer"), Ok("(none)\n".to_owned()));
    for index in 0..300 {
        kv(&file, &format!("put key{index} value{index}")).expect("put");
    }
    assert_eq!(kv(&file, "get key299"), Ok("value299\n".to_owned()));
    assert_eq!(kv(&file, "list").expect("list").lines().count(), 301);
}

#[test]
fn the_kv_store_takes_long_keys_and_refuses_bad_commands_and_files_that_are_not_pools() {
    let file = ScratchFile::new("example-kv-refusals");
    let long = "k".repeat(5000);
    assert_eq!(
        kv(&file, &format!("put {long} x")),
        Ok("added\n".to_owned())
    );
    assert_eq!(kv(&file, &format!("get {long}")), Ok("x\n".to_owned()));
    assert_eq!(
        kv(&file, &format!("get {}", &long[1..])),
        Ok("(none)\n".to_owned())
    );
    let refused = kv(&file, "frobnicate").expect_err("no such command");
    assert!(refused.contains("usage: kv"), "{refused}");
    let not_a_pool = ScratchFile::new("example-kv-not-a-pool");
    std::fs::write(not_a_pool.path(), b"just some text").expect("write");
    let refused = kv(&not_a_pool, "list").expect_err("not a pool");
    assert_eq!(
        std::fs::read(not_a_pool.path()).expect("read"),
        b"just some text",
        "left as it was: {refused}"
    );
}

#[allow(
    dead_code,
    reason = "`main` and its argument parsing are the command line's"
)]
#[path = "../../examples/queue.rs"]
mod queue;

fn queue(file: &ScratchFile, command: &[&str]) -> Result<String, String> {
    let words: Vec<String> = command.iter().map(|&word| word.to_owned()).collect();
    queue::run(file.path(), &words).map_err(|failure| failure.to_string())
}

#[test]
fn the_queue_keeps_its_jobs_in_order_from_run_to_run_and_the_collector_frees_popped_ones() {
    let file = ScratchFile::new("example-queue");
    assert_eq!(queue(&file, &["pop"]), Ok("(empty)\n".to_owned()));
    assert_eq!(
        queue(&file, &["push", "wash the car", "feed the cat"]),
        Ok("2 queued\n".to_owned())
    );
    assert_eq!(
        queue(&file, &["push", "write"]),
        Ok("3 queued\n".to_owned())
    );
    assert_eq!(
        queue(&file, &["list"]),
        Ok("wash the car\nfeed the cat\nwrite\n".to_owned())
    );
    assert_eq!(queue(&file, &["peek"]), Ok("wash the car\n".to_owned()));
    assert_eq!(queue(&file, &["pop"]), Ok("wash the car\n".to_owned()));
    assert_eq!(queue(&file, &["len"]), Ok("2\n".to_owned()));
    for _ in 0..2 {
        queue(&file, &["pop"]).expect("pop");
    }
    assert_eq!(queue(&file, &["pop"]), Ok("(empty)\n".to_owned()));
    assert_eq!(
        queue(&file, &["push", "again"]),
        Ok("1 queued\n".to_owned())
    );
    assert_eq!(queue(&file, &["list"]), Ok("again\n".to_owned()));
    let refused = queue(&file, &["push"]).expect_err("nothing to push");
    assert!(refused.contains("usage: queue"), "{refused}");
    // A collection leaves the one job and its text.
    let mut pool = pmem::Pool::<queue::Queue>::open(file.path()).expect("open");
    assert_eq!(pool.collect().expect("collect").live_objects, 2);
    assert_eq!(pool.heap_stats().allocated_objects, 2);
}
