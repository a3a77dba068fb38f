// A type parameter: its `NAME_HASH` joins the struct's, so `Versioned<u64>` and
// `Versioned<Account>` are two identities; no bound is added, and no layout hash is
// evaluated at the definition (the runtime evaluates it for each instance it stores).
#[derive(Persistent)]
#[repr(C)]
pub struct Versioned<T: Persistent> {
    pub version: u64,
    pub value: T,
}
