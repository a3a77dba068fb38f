// Misuse: a const-generic struct that has padding only for some arguments (`Padded<3>` leaves five bytes before `b`), caught when that instantiation is a pool's root.
use pmem::{Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Padded<const N: usize> {
    a: [u8; N],
    b: u64,
}

fn main() {
    let _ = Pool::<Padded<8>>::open("/nonexistent/padded-8.pool");
    let _ = Pool::<Padded<3>>::open("/nonexistent/padded-3.pool");
}
