// Misuse: deriving `Persistent` on an enum (its discriminant could hold any bit pattern after a crash).
use pmem::Persistent;

#[derive(Persistent)]
#[repr(u8)]
enum State {
    Idle,
    Busy,
}

fn main() {}
