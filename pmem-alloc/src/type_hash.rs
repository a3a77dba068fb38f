//! Stable type identities, computed at compile time.
//!
//! A pool records the identity of its root type so that opening it with another type is
//! refused. `core::any::TypeId` changes between compiler versions and builds, so it cannot
//! be stored in a file. Instead every [`Persistent`](crate::Persistent) type carries two
//! 64-bit FNV-1a hashes built from text and numbers that only the type's own definition
//! decides:
//!
//! - the **name hash**: the type's path, that is its defining module's `module_path!()` (which
//!   starts with the crate's name), `::` and its name, followed by its generic arguments in
//!   declaration order: the name hash of a type argument, the value of a const argument (as a
//!   `u128`, [`hash_u128`]). Primitives are hashed from their name alone (`"u64"`), which no
//!   other type can have;
//! - the **layout hash**: the name hash, then the alignment, then for every field its name,
//!   byte offset and layout hash, then the total size.
//!
//! The path is part of the name so that two types of the same name in two modules are two
//! types. The heap keys its type table by layout hash, and a holder's layout hash sees its
//! pointees only through their name hashes (below): without the path, `m1::Holder` and
//! `m2::Holder`, each pointing at its own module's `Leaf`, would share one type record and one
//! of them would be traced with the other's pointer map.
//!
//! The price is that moving or renaming a type, or its module or crate, changes its identity,
//! and pools whose root is of the old type are refused with `RootTypeMismatch`. A derived type
//! can keep its identity across a move with `#[persistent(name = "old::path::Type")]`, which
//! replaces the path text the name hash starts from (so the old path reproduces the old
//! identity exactly). Two types given the same `name` are again indistinguishable, and
//! `module_path!()` names a module, not a function: two same-named types declared in two
//! function bodies of one module need distinct names or a `name` each.
//!
//! A [`PPtr<T>`](crate::PPtr) contributes only `T`'s *name* hash to its layout hash. That keeps
//! recursive types (a list node pointing at its own type) from making the constant depend on
//! itself: a name hash depends only on text, on const arguments and on the name hashes of
//! type arguments, never on a layout. The layout of the pointee is checked where the pointee
//! is stored, and its pointer map records the pointee's layout hash for the collector.
//!
//! The functions are `const` so that derived implementations compute their hashes at
//! compile time. FNV-1a is not a cryptographic hash: it guards against mistakes, not against
//! an adversary who crafts a colliding type.

/// The FNV-1a 64-bit offset basis: the hash of nothing.
pub const SEED: u64 = 0xcbf2_9ce4_8422_2325;

const PRIME: u64 = 0x0000_0100_0000_01b3;

/// Continues `hash` over the bytes of `text`, followed by a terminator so that
/// `("ab", "c")` and `("a", "bc")` hash differently.
#[must_use]
pub const fn hash_str(hash: u64, text: &str) -> u64 {
    let bytes = text.as_bytes();
    let mut hash = hash;
    let mut index = 0;
    while index < bytes.len() {
        hash = (hash ^ bytes[index] as u64).wrapping_mul(PRIME);
        index += 1;
    }
    (hash ^ 0xff).wrapping_mul(PRIME)
}

/// Continues `hash` over the eight little-endian bytes of `value`.
#[must_use]
pub const fn hash_u64(hash: u64, value: u64) -> u64 {
    let bytes = value.to_le_bytes();
    let mut hash = hash;
    let mut index = 0;
    while index < bytes.len() {
        hash = (hash ^ bytes[index] as u64).wrapping_mul(PRIME);
        index += 1;
    }
    hash
}

/// Continues `hash` over the sixteen little-endian bytes of `value`: a const generic
/// argument, which may be a `u128` or an `i128`.
#[must_use]
pub const fn hash_u128(hash: u64, value: u128) -> u64 {
    hash_u64(hash_u64(hash, value as u64), (value >> 64) as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_the_published_fnv1a_vectors() {
        // FNV-1a 64 of "a" is 0xaf63dc4c8601ec8c; hash_str appends one 0xff terminator.
        let a_only = (SEED ^ u64::from(b'a')).wrapping_mul(PRIME);
        assert_eq!(a_only, 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash_str(SEED, "a"), (a_only ^ 0xff).wrapping_mul(PRIME));
    }

    #[test]
    fn separates_field_boundaries() {
        let ab_c = hash_str(hash_str(SEED, "ab"), "c");
        let a_bc = hash_str(hash_str(SEED, "a"), "bc");
        assert_ne!(ab_c, a_bc);
    }

    #[test]
    fn numbers_change_the_hash() {
        assert_ne!(hash_u64(SEED, 1), hash_u64(SEED, 2));
        assert_ne!(hash_u64(SEED, 0), SEED);
        assert_ne!(hash_u128(SEED, 1), hash_u128(SEED, 1 << 64));
    }

    #[test]
    fn a_u128_is_its_sixteen_little_endian_bytes() {
        let value = 0x0f0e_0d0c_0b0a_0908_0706_0504_0302_0100_u128;
        let bytewise = value.to_le_bytes().iter().fold(SEED, |hash, &byte| {
            (hash ^ u64::from(byte)).wrapping_mul(PRIME)
        });
        assert_eq!(hash_u128(SEED, value), bytewise);
    }
}
