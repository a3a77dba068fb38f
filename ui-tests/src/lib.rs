//! Compile-fail and compile-pass tests of pmem live in `tests/`.
