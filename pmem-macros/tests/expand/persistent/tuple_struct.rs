// A tuple struct: fields are named by index, in the hash and in the field tokens
// (`__pmem_field_0`).
#[derive(Persistent)]
#[repr(C)]
pub struct Extent(pub u64, u32, u32);
