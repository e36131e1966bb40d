//! One open-addressing table for every word the embedding pass asks about: the vocabulary's tokens and
//! pieces, and the form words (their flags folded into the same entries), so a word costs one probe.
//!
//! It is keyed on the text pass's word hash (`features::word_hash`), which the word scanner computes while
//! it finds the word's end, so a whole word is never hashed twice. A slot holds its key inline (up to
//! `INLINE` bytes as u64 chunks, as the scanner hands a word's head over), its token id and its flags: a
//! probe is one cache line, with no pointer to follow. The rare longer keys live in a side map.

use std::collections::HashMap;

use crate::features::{chunk_step, word_finish, word_hash, Word, HEAD_CHUNKS, WORD_SEED};

/// Keys up to this many bytes live in the slots (MiniLM's longest is 18).
const INLINE: usize = HEAD_CHUNKS * 8;
/// The id of an entry that is a form word but not a vocabulary token.
const NO_TOKEN: u32 = u32::MAX;

/// What the table knows about a key: its token (if it is one) and its form flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) struct Entry {
    id: u32,
    pub(super) flags: u8,
}

impl Entry {
    const EMPTY: Self = Self { id: NO_TOKEN, flags: 0 };

    /// The token id, unless the entry is only a form word.
    #[inline]
    pub(super) fn token(self) -> Option<u32> {
        (self.id != NO_TOKEN).then_some(self.id)
    }
}

/// A key of at most `INLINE` bytes, zero-padded into little-endian chunks; `len == 0` marks an empty slot.
#[derive(Debug, Clone, Copy, Default)]
#[repr(C, align(32))]
struct Slot {
    key: [u64; HEAD_CHUNKS],
    id: u32,
    len: u8,
    flags: u8,
}

fn chunks(key: &[u8]) -> [u64; HEAD_CHUNKS] {
    let mut out = [0u64; HEAD_CHUNKS];
    for (c, bytes) in out.iter_mut().zip(key.chunks(8)) {
        let mut buf = [0u8; 8];
        buf[..bytes.len()].copy_from_slice(bytes);
        *c = u64::from_le_bytes(buf);
    }
    out
}

#[derive(Debug)]
pub(super) struct WordTable {
    slots: Vec<Slot>,
    used: usize,
    mask: usize,
    /// Keys longer than `INLINE`.
    long: HashMap<Vec<u8>, Entry>,
    /// The longest key, in bytes: a longer word or piece cannot match, so it is not looked up.
    longest: usize,
}

impl WordTable {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let n = (capacity * 2).next_power_of_two().max(16);
        Self { slots: vec![Slot::default(); n], used: 0, mask: n - 1, long: HashMap::new(), longest: 0 }
    }

    /// The slot holding `key` (`len` bytes), or the empty slot where it would go.
    #[inline]
    fn probe(&self, hash: u32, key: &[u64; HEAD_CHUNKS], len: usize) -> usize {
        let mut i = hash as usize & self.mask;
        loop {
            let s = &self.slots[i];
            if s.len == 0 || (usize::from(s.len) == len && s.key == *key) {
                return i;
            }
            i = (i + 1) & self.mask;
        }
    }

    #[inline]
    fn get(&self, hash: u32, key: &[u64; HEAD_CHUNKS], len: usize) -> Option<Entry> {
        let s = &self.slots[self.probe(hash, key, len)];
        (s.len != 0).then_some(Entry { id: s.id, flags: s.flags })
    }

    /// Changes the entry for `key` (exact bytes), adding an empty one first if it is new.
    fn update(&mut self, key: &[u8], change: impl FnOnce(&mut Entry)) {
        if key.is_empty() {
            return; // no word is empty, so it could never be looked up
        }
        self.longest = self.longest.max(key.len());
        if key.len() > INLINE {
            change(self.long.entry(key.to_vec()).or_insert(Entry::EMPTY));
            return;
        }
        // At most half full, so a probe always ends.
        if (self.used + 1) * 2 > self.slots.len() {
            self.grow();
        }
        let chunked = chunks(key);
        let i = self.probe(word_hash(key), &chunked, key.len());
        let s = self.slots[i];
        let mut entry = if s.len == 0 {
            self.used += 1;
            Entry::EMPTY
        } else {
            Entry { id: s.id, flags: s.flags }
        };
        change(&mut entry);
        #[allow(clippy::cast_possible_truncation)] // key.len() <= INLINE
        let len = key.len() as u8;
        self.slots[i] = Slot { key: chunked, id: entry.id, len, flags: entry.flags };
    }

    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        let old = std::mem::replace(&mut self.slots, vec![Slot::default(); n]);
        self.mask = self.slots.len() - 1;
        for s in old.into_iter().filter(|s| s.len != 0) {
            let bytes: Vec<u8> = s.key.iter().flat_map(|c| c.to_le_bytes()).take(usize::from(s.len)).collect();
            let i = self.probe(word_hash(&bytes), &s.key, usize::from(s.len));
            self.slots[i] = s;
        }
    }

    /// Gives `key` the token `id`; a repeated key keeps its first id.
    pub(super) fn insert_token(&mut self, key: &[u8], id: u32) {
        self.update(key, |e| {
            if e.id == NO_TOKEN {
                e.id = id;
            }
        });
    }

    /// Adds form `flags` to `key` (a whole, lower-case word).
    pub(super) fn add_flags(&mut self, key: &[u8], flags: u8) {
        self.update(key, |e| e.flags |= flags);
    }

    /// The entry of a word of the text (`text[word.start..word.end]`, any ASCII case): one probe on the
    /// hash and lower-cased head the scanner computed.
    #[inline]
    pub(super) fn word(&self, text: &[u8], word: &Word) -> Option<Entry> {
        let len = word.end - word.start;
        if len > self.longest {
            None
        } else if len <= INLINE {
            self.get(word.hash, &word.head, len)
        } else {
            self.long.get(&text[word.start..word.end].to_ascii_lowercase()).copied()
        }
    }

    /// The longest prefix of `key` (lower-case: a word, or `##` and a word's rest) of at least `min_len`
    /// bytes that is a token, with its length: one WordPiece step. The prefixes' hashes share the hash
    /// state of their common whole chunks, so each costs one chunk step and one probe.
    pub(super) fn longest_token_prefix(&self, key: &[u8], min_len: usize) -> Option<(u32, usize)> {
        let max = key.len().min(self.longest);
        if max > INLINE {
            return (min_len..=max).rev().find_map(|n| self.piece(&key[..n]).map(|id| (id, n)));
        }
        let head = chunks(&key[..max]);
        let mut state = [WORD_SEED; HEAD_CHUNKS + 1];
        for c in 0..HEAD_CHUNKS {
            state[c + 1] = chunk_step(state[c], head[c]);
        }
        for n in (min_len.max(1)..=max).rev() {
            let (whole, part) = (n / 8, n % 8);
            let mut prefix = [0u64; HEAD_CHUNKS];
            prefix[..whole].copy_from_slice(&head[..whole]);
            let hash = if part == 0 {
                state[whole]
            } else {
                prefix[whole] = head[whole] & ((1u64 << (8 * part)) - 1);
                chunk_step(state[whole], prefix[whole])
            };
            if let Some(id) = self.get(word_finish(hash), &prefix, n).and_then(Entry::token) {
                return Some((id, n));
            }
        }
        None
    }

    /// The token of an exact (lower-case) key: a word's prefix or a `##` piece.
    #[inline]
    pub(super) fn piece(&self, key: &[u8]) -> Option<u32> {
        let entry = if key.len() > self.longest {
            None
        } else if key.len() <= INLINE {
            self.get(word_hash(key), &chunks(key), key.len())
        } else {
            self.long.get(key).copied()
        };
        entry.and_then(Entry::token)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::next_word;

    fn word(t: &WordTable, text: &str) -> Option<Entry> {
        let w = next_word(text.as_bytes(), 0).unwrap();
        assert_eq!((w.start, w.end), (0, text.len()), "one word");
        t.word(text.as_bytes(), &w)
    }

    #[test]
    fn tokens_and_flags_share_an_entry_and_first_ids_win() {
        let mut t = WordTable::with_capacity(2);
        t.insert_token(b"write", 6);
        t.insert_token(b"write", 9);
        t.add_flags(b"write", 1);
        t.add_flags(b"must", 8);
        let e = word(&t, "Write").unwrap();
        assert_eq!((e.token(), e.flags), (Some(6), 1));
        let must = word(&t, "MUST").unwrap();
        assert_eq!((must.token(), must.flags), (None, 8));
        // A form word with no token is no piece; pieces are matched exactly (case and all).
        assert_eq!(t.piece(b"must"), None);
        assert_eq!(t.piece(b"write"), Some(6));
        assert_eq!(t.piece(b"Write"), None);
        assert!(word(&t, "writes").is_none());
    }

    #[test]
    fn long_keys_grow_and_case() {
        let mut t = WordTable::with_capacity(1);
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            t.insert_token(w.as_bytes(), i as u32);
        }
        // Keys of every length around the inline limit, and a key with upper case (never a lower-cased word).
        let long: Vec<String> = (INLINE - 2..INLINE + 3).map(|n| "k".repeat(n)).collect();
        for (i, w) in long.iter().enumerate() {
            t.insert_token(w.as_bytes(), 2000 + i as u32);
        }
        t.insert_token(b"[PAD]", 5000);
        for (i, w) in words.iter().enumerate() {
            assert_eq!(t.piece(w.as_bytes()), Some(i as u32), "{w}");
        }
        for (i, w) in long.iter().enumerate() {
            assert_eq!(t.piece(w.as_bytes()), Some(2000 + i as u32), "{w}");
            assert_eq!(word(&t, &w.to_ascii_uppercase()).and_then(Entry::token), Some(2000 + i as u32), "{w}");
        }
        assert_eq!(t.longest, INLINE + 2);
        assert_eq!(t.piece(b"w1000"), None);
        assert_eq!(t.piece(b"[PAD]"), Some(5000));
        assert_eq!(t.piece(b"[pad]"), None);
    }
}
