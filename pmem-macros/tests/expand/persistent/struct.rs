// A plain `#[repr(C)]` struct: the identity hashed from `module_path!()` and the name, one
// padding check per field and one after the last, the `Drop` check, the field tokens that
// `#[txn]` narrows a `PMut` with, and the layout hash evaluated at the definition.
#[derive(Persistent)]
#[repr(C)]
pub struct Account {
    pub balance: u64,
    owner: u32,
    flags: u32,
}
