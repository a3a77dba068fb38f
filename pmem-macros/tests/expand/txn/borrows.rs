// Explicit `&mut` borrows: of a persistent place (rewritten, and its index hoisted), of a
// reference's target, of a typed local (left alone), and a bare `*p` store (left alone:
// `DerefMut` logs exactly `*p`). Explicit dereferences: of a `mut` `PMut` (from `&mut local`)
// and through a `&mut PMut` (from Rust's reborrow `&mut *rr`), both then precise.
fn borrows(
    mut node: PMut<'_, Node>,
    keys: &mut [u64],
    mut slot: PMut<'_, u64>,
    rr: &mut PMut<'_, Node>,
) {
    let mut pair: (u64, u64) = (0, 0);
    core::mem::swap(&mut pair.0, &mut pair.1);
    reset(&mut node.keys[keys.len() - 1]);
    keys[0] = 1;
    *slot = 5;
    let mut local = node.reborrow();
    (*local).count += 1;
    (**rr).count += 1;
}
