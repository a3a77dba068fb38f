// Misuse: `#[txn]` on a foreign function block; a function written in another language cannot have its stores logged.
#[pmem::txn]
unsafe extern "C" {
    fn abs(input: i32) -> i32;
}

fn main() {}
