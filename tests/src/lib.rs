//! Integration tests of pmem live in `tests/`.
