//! What a crash could leave: the durable image and the candidate values of each word at one
//! crash point, and the pool files built from them.

use std::sync::Arc;

use crate::hw::flush::CACHE_LINE;

/// The state of the persistence domain just before one fence took effect, or one
/// instrumented store happened.
#[derive(Clone)]
pub struct CrashPoint {
    /// Which moment (see [`Simulation::moments`](super::Simulation::moments); the first is 1).
    pub moment: u64,
    /// Which fence the crash happened before (the first is 1).
    pub fence: u64,
    /// Whether the crash happened before a store (after the fences before `fence`), rather
    /// than just before fence `fence` took effect.
    pub at_store: bool,
    /// The index of the scheduled thread whose fence or store it was (see
    /// [`Simulation::join`](super::Simulation::join)), or `None` for a thread that is not
    /// scheduled.
    pub thread: Option<usize>,
    /// The durable image is `base` with the lines of `changes` (sorted by line) over it.
    pub(super) base: Arc<Vec<u8>>,
    pub(super) changes: Vec<LineContents>,
    /// Per word that may differ from the durable image: its offset and the values it may
    /// hold instead, oldest first.
    pub(super) candidates: Vec<(usize, Vec<[u8; 8]>)>,
}

/// A cache line's number and contents.
pub(crate) type LineContents = (usize, [u8; CACHE_LINE]);

/// One pool file a crash could leave, and which words of it were evicted.
#[derive(Clone)]
pub struct CrashImage {
    /// The fence the crash happened before, and the evicted words, for reproducing it.
    pub description: String,
    /// The file's bytes.
    pub bytes: Vec<u8>,
}

impl CrashPoint {
    /// How many 8-byte words may differ from the durable image.
    #[must_use]
    pub fn dirty_words(&self) -> usize {
        self.candidates.len()
    }

    /// The bytes a crash is guaranteed to leave: every image starts from these.
    #[must_use]
    pub fn durable(&self) -> Vec<u8> {
        let mut bytes = self.base.to_vec();
        for (line, contents) in &self.changes {
            bytes[line * CACHE_LINE..(line + 1) * CACHE_LINE].copy_from_slice(contents);
        }
        bytes
    }

    /// The durable image as a shared base and the lines over it (see `CrashPoint::base`).
    pub(crate) fn durable_parts(&self) -> (&Arc<Vec<u8>>, &[LineContents]) {
        (&self.base, &self.changes)
    }

    /// The durable value of the word at `offset`.
    pub(crate) fn durable_word(&self, offset: usize) -> &[u8] {
        let line = offset / CACHE_LINE;
        let within = offset % CACHE_LINE;
        match self
            .changes
            .binary_search_by_key(&line, |&(changed, _)| changed)
        {
            Ok(index) => &self.changes[index].1[within..within + 8],
            Err(_) => &self.base[offset..offset + 8],
        }
    }

    /// The crash image in which dirty word `i` holds its durable value if `choice(i)` is 0,
    /// and otherwise its candidate value number `choice(i)` (1 is the oldest; larger
    /// numbers are clamped to the latest).
    #[must_use]
    pub fn image(&self, choice: impl Fn(usize) -> usize) -> CrashImage {
        let choice: Vec<usize> = (0..self.candidates.len()).map(choice).collect();
        let mut bytes = self.durable();
        for (offset, word) in self.evicted_words(&choice) {
            bytes[offset..offset + 8].copy_from_slice(word);
        }
        CrashImage {
            description: self.describe(&choice),
            bytes,
        }
    }

    /// Crash images for this point: every combination of the words' values if there are at
    /// most `budget`; otherwise nothing evicted, the latest value of every word, and
    /// `budget - 2` combinations drawn with `seed`.
    #[must_use]
    pub fn images(&self, budget: usize, seed: u64) -> Vec<CrashImage> {
        self.choices(budget, seed)
            .iter()
            .map(|choice| self.image(|word| choice[word]))
            .collect()
    }

    /// The choices [`images`](Self::images) makes, one per image: for each dirty word, 0
    /// for its durable value or the number of its candidate value.
    pub(crate) fn choices(&self, budget: usize, seed: u64) -> Vec<Vec<usize>> {
        let radices: Vec<usize> = self
            .candidates
            .iter()
            .map(|(_, values)| values.len() + 1)
            .collect();
        let combinations = radices.iter().try_fold(1usize, |product, &radix| {
            product
                .checked_mul(radix)
                .filter(|&product| product <= budget)
        });
        if let Some(combinations) = combinations {
            return (0..combinations)
                .map(|number| {
                    let mut rest = number;
                    radices
                        .iter()
                        .map(|&radix| {
                            let digit = rest % radix;
                            rest /= radix;
                            digit
                        })
                        .collect()
                })
                .collect();
        }
        let mut choices = vec![
            vec![0; radices.len()],
            radices.iter().map(|&radix| radix - 1).collect(),
        ];
        let mut random = (seed ^ self.moment.wrapping_mul(0x9e37_79b9_7f4a_7c15)) | 1;
        for _ in 2..budget.max(2) {
            let digits = radices
                .iter()
                .map(|&radix| (xorshift(&mut random) % radix as u64) as usize)
                .collect();
            choices.push(digits);
        }
        choices
    }

    /// The words `choice` evicts: their offsets, the numbers of the values chosen (clamped
    /// to the latest), and the values.
    fn chosen_values<'a>(
        &'a self,
        choice: &'a [usize],
    ) -> impl Iterator<Item = (usize, usize, &'a [u8; 8])> + 'a {
        self.candidates
            .iter()
            .zip(choice)
            .filter(|&(_, &chosen)| chosen > 0)
            .map(|((offset, values), &chosen)| {
                let number = chosen.min(values.len());
                (*offset, number, &values[number - 1])
            })
    }

    /// The words `choice` evicts: their offsets and the values they hold in its image.
    pub(crate) fn evicted_words<'a>(
        &'a self,
        choice: &'a [usize],
    ) -> impl Iterator<Item = (usize, &'a [u8; 8])> + 'a {
        self.chosen_values(choice)
            .map(|(offset, _, value)| (offset, value))
    }

    /// What reproduces the image of `choice`: the moment and the evicted words.
    pub(crate) fn describe(&self, choice: &[usize]) -> String {
        let evicted: Vec<String> = self
            .chosen_values(choice)
            .map(|(offset, number, _)| format!("{offset:#x}/{number}"))
            .collect();
        let place = if self.at_store { "at a store" } else { "just" };
        let thread = self
            .thread
            .map(|index| format!(" of scheduled thread {index}"))
            .unwrap_or_default();
        format!(
            "crash {place} before fence {}{thread} (moment {}), evicted words (offset/value) [{}]",
            self.fence,
            self.moment,
            evicted.join(", ")
        )
    }
}

/// Marsaglia's xorshift64 step: the domain's deterministic pseudo-random numbers (seeded
/// eviction choices, and the scheduler's choice of the next thread). `state` must not be 0.
pub(super) fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}
