// Misuse: looking up a `PString`-keyed map by a `PString`: lookups take the key's view,
// a `&str`, which reading the stored keys gives.
use pmem::{PHashMap, PString, Persistent, Pool};

#[derive(Persistent)]
#[repr(C)]
struct Root {
    names: PHashMap<PString, u64>,
}

fn lookup(pool: &Pool<Root>, name: &PString) -> Result<Option<u64>, pmem::Error> {
    Ok(pool.root().names.get(pool, name)?.copied())
}

fn main() {}
