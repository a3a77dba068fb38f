// Const parameters, mixed with a type parameter and with a default: each argument joins the
// name hash in declaration order (a type's `NAME_HASH`, a const's value as a `u128`), so
// `Frame<u64, 16, true>` and `Frame<u64, 32, true>` are two identities; as for a type
// parameter, no layout hash is evaluated at the definition.
#[derive(Persistent)]
#[repr(C)]
pub struct Frame<T: Persistent, const N: usize, const SEALED: bool = false> {
    pub header: T,
    pub bytes: [u8; N],
}
