// `#[persistent(name = ...)]`: the identity is hashed from the given path instead of
// `module_path!()`, so the type keeps its pools after a move to another module.
#[derive(Persistent)]
#[persistent(name = "bank::Account")]
#[repr(C)]
pub struct Account {
    pub balance: u64,
}
