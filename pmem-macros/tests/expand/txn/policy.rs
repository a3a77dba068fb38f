// What is not rewritten: method calls (logged whole through `DerefMut`), macro invocations,
// unsafe blocks and nested items; closures are rewritten like the body.
fn policy(mut list: PMut<'_, List>) -> impl Sized {
    list.keys.swap(0, 1);
    println!("{}", list.len);
    unsafe { (*raw()).len = 0 };
    fn nested(mut other: PMut<'_, List>) {
        other.len = 0;
    }
    let mut bump = |mut list: PMut<'_, List>| list.len += 1;
    bump(list.reborrow());
}
