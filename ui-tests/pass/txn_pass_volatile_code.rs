// Correct: a `#[txn]` function doing only volatile work keeps Rust's meaning: disjoint field borrows of a typed local, `Vec` indexing, closures and shadowing.
#[pmem::txn]
fn volatile_work(values: &mut Vec<u64>) -> (u64, u64, u64) {
    let mut pair: (u64, u64) = (1, 2);
    std::mem::swap(&mut pair.0, &mut pair.1);

    values[0] = 10;
    values[1] += 5;
    let first = &mut values[2];
    *first *= 3;

    let mut total = 0;
    let mut add = |value: u64| total += value;
    add(pair.0);
    add(pair.1);

    let values_sum: u64 = values.iter().sum();
    let values_sum = values_sum * 2;
    let pair = pair.0 * 10 + pair.1;
    (pair, total, values_sum)
}

fn main() {
    let mut values = vec![1, 2, 3];
    let (pair, total, values_sum) = volatile_work(&mut values);
    assert_eq!(pair, 21);
    assert_eq!(total, 3);
    assert_eq!(values, [10, 7, 9]);
    assert_eq!(values_sum, 52);
}
