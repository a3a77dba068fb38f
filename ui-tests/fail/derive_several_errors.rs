// Misuse: two refusals at once (no `#[repr(C)]`, and a lifetime parameter); both must be reported together.
use pmem::Persistent;

#[derive(Persistent)]
struct View<'a> {
    data: &'a u64,
}

fn main() {}
