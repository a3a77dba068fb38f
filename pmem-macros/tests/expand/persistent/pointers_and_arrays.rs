// `PPtr` fields and arrays are described to the collector through their own
// `describe_pointers`, at the field's offset; the derive treats them like any other field.
#[derive(Persistent)]
#[repr(C)]
pub struct Node {
    pub next: PPtr<Node>,
    pub children: [PPtr<Node>; 4],
    pub keys: [u64; 4],
}
