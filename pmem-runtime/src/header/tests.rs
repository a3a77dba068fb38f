//! The header's unit tests: round trips, torn and damaged records, the order of checks, and
//! the specification's example encoded byte for byte.

use super::*;

fn identity() -> Identity {
    Identity {
        uuid: [7; 16],
        created_unix_nanos: 1_700_000_000_000_000_000,
        root_layout_hash: 0x1234_5678_9abc_def0,
        root_size: 24,
        root_align: 8,
        root_offset: ROOT_OFFSET,
        log: LogArea {
            offset: 8192,
            slot_count: 1,
            slot_len: 65536,
        },
        layout: "bank".into(),
        root_type: "demo::Bank".into(),
    }
}

fn header_page(identity: &Identity, states: &[State]) -> Vec<u8> {
    let mut page = vec![0u8; HEADER_LEN];
    page[..IDENTITY_LEN].copy_from_slice(&identity.encode());
    for state in states {
        let offset = state.slot_offset();
        page[offset..offset + STATE_LEN].copy_from_slice(&state.encode());
    }
    page
}

const FIRST: State = State {
    sequence: 1,
    pool_size: 1 << 20,
    clean_shutdown: true,
};

#[test]
fn round_trips() {
    let page = header_page(&identity(), &[FIRST]);
    assert_eq!(decode(&page, 1 << 20), Ok((identity(), FIRST)));
}

#[test]
fn the_newest_valid_state_record_wins() {
    let second = FIRST.superseded(1 << 21, false);
    let page = header_page(&identity(), &[FIRST, second]);
    assert_eq!(decode(&page, 1 << 21).map(|(_, state)| state), Ok(second));
}

#[test]
fn a_torn_state_record_falls_back_to_the_other() {
    let second = FIRST.superseded(1 << 20, false);
    let mut page = header_page(&identity(), &[FIRST, second]);
    page[second.slot_offset() + 8] ^= 1;
    assert_eq!(decode(&page, 1 << 20).map(|(_, state)| state), Ok(FIRST));
}

/// A crash during a state update may persist any subset of the record's eight 8-byte
/// words (only aligned 8-byte stores are failure-atomic, and the line may be evicted at
/// any moment before its flush and fence). Every such image must read as the old state
/// or the new one, whatever the slot held before: nothing (a new pool) or an older
/// record.
#[test]
fn a_state_update_torn_at_any_word_subset_reads_as_old_or_new() {
    let words = STATE_LEN / 8;
    let second = FIRST.superseded(1 << 20, false);
    let third = second.superseded(1 << 20, true);
    for (already_written, current, update) in [
        (vec![FIRST], FIRST, second),
        (vec![FIRST, second], second, third),
    ] {
        let before = header_page(&identity(), &already_written);
        let offset = update.slot_offset();
        let new_record = update.encode();
        for subset in 0u32..1 << words {
            let mut image = before.clone();
            for word in (0..words).filter(|word| subset & (1 << word) != 0) {
                let range = offset + word * 8..offset + word * 8 + 8;
                image[range.clone()].copy_from_slice(&new_record[word * 8..word * 8 + 8]);
            }
            let state = decode(&image, 1 << 20).map(|(_, state)| state);
            let complete = image[offset..offset + STATE_LEN] == new_record;
            let expected = if complete { update } else { current };
            assert_eq!(
                state,
                Ok(expected),
                "words {subset:#010b} of {update:?} persisted"
            );
        }
    }
}

#[test]
fn both_state_records_damaged_is_corruption() {
    let mut page = header_page(&identity(), &[FIRST]);
    page[FIRST.slot_offset()] ^= 1;
    assert_eq!(
        decode(&page, 1 << 20),
        Err(HeaderError::Corrupted(HeaderPart::State))
    );
}

/// Flips one bit in each byte of `range` in turn; each damaged page must be refused as
/// a corrupted `part`.
fn assert_every_byte_is_checked(range: core::ops::Range<usize>, part: HeaderPart) {
    let page = header_page(&identity(), &[FIRST]);
    for offset in range {
        let mut damaged = page.clone();
        damaged[offset] ^= 0x10;
        assert_eq!(
            decode(&damaged, 1 << 20),
            Err(HeaderError::Corrupted(part)),
            "flipping a bit of byte {offset} went unnoticed"
        );
    }
}

#[test]
fn every_byte_of_the_state_record_is_checked() {
    let slot = FIRST.slot_offset();
    assert_every_byte_is_checked(slot..slot + STATE_LEN, HeaderPart::State);
}

#[test]
fn every_identity_byte_is_checked() {
    assert_every_byte_is_checked(12..IDENTITY_LEN, HeaderPart::Identity);
}

#[test]
fn magic_version_and_length_are_checked_in_that_order() {
    let page = header_page(&identity(), &[FIRST]);
    assert_eq!(decode(&page[..4], 4), Err(HeaderError::NotAPool));
    assert_eq!(decode(b"ELF\x7f....", 8), Err(HeaderError::NotAPool));
    assert_eq!(
        decode(&page[..100], 100),
        Err(HeaderError::Truncated {
            expected: HEADER_LEN as u64,
            found: 100
        })
    );
    let mut newer = page.clone();
    newer[8] = FORMAT_VERSION as u8 + 1;
    assert_eq!(
        decode(&newer, 1 << 20),
        Err(HeaderError::UnsupportedVersion {
            found: FORMAT_VERSION + 1
        })
    );
    assert_eq!(
        decode(&page, 8192),
        Err(HeaderError::Truncated {
            expected: 1 << 20,
            found: 8192
        })
    );
}

/// The header page of the specification's example dump (`docs/src/file-format.md`,
/// "Example"), its elided zero lines restored.
fn example_page() -> Vec<u8> {
    let spec = include_str!("../../../docs/src/file-format.md");
    let dump = spec
        .split("## Example")
        .nth(1)
        .and_then(|section| section.split("```text\n").nth(1))
        .and_then(|block| block.split("```").next())
        .expect("the example dump");
    let mut page = vec![0u8; HEADER_LEN];
    for line in dump.lines() {
        let (address, rest) = line.split_once(": ").expect("an address");
        let at = usize::from_str_radix(address, 16).expect("a hex address");
        let hex: String = rest[..39].split(' ').collect();
        for (byte, digits) in page[at..at + 16].iter_mut().zip(hex.as_bytes().chunks(2)) {
            let digits = core::str::from_utf8(digits).expect("ASCII");
            *byte = u8::from_str_radix(digits, 16).expect("hex digits");
        }
    }
    page
}

/// The encoders write the specification's example byte for byte.
#[test]
fn the_example_header_decodes_and_encodes_to_itself() {
    let page = example_page();
    let (identity, state) = decode(&page, 32768).expect("the example is a valid header");
    assert_eq!((identity.layout.as_str(), identity.root_size), ("demo", 16));
    assert_eq!((state.sequence, state.clean_shutdown), (2, true));
    assert_eq!(identity.encode()[..], page[..IDENTITY_LEN]);
    for offset in STATE_OFFSETS {
        let (record, _) = StateRecord::read_from_prefix(&page[offset..]).expect("a record");
        assert!(record.is_valid());
        assert_eq!(
            State::of(&record).encode()[..],
            page[offset..offset + STATE_LEN]
        );
    }
}

#[test]
fn long_names_are_cut_at_a_character_boundary() {
    let long = "é".repeat(100);
    let stored = stored_root_type_name(&long);
    assert!(stored.len() < IdentityBlock::new_zeroed().root_type.len());
    assert!(long.starts_with(&stored));
}
