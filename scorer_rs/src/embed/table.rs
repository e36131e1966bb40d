//! One open-addressing table for every word the embedding pass asks about: the vocabulary's tokens and
//! pieces, and the form words (their flags folded into the same entries), so a word costs one probe.
//!
//! It is keyed on the text pass's word hash (`features::word_hash`), which the word scanner computes while
//! it finds the word's end, so a whole word is never hashed twice. Each slot holds that hash beside its
//! entry index: a probe compares integers, and reads a stored key only when the hash matches.

use crate::features::word_hash;

/// The id of an entry that is a form word but not a vocabulary token.
pub(super) const NO_TOKEN: u32 = u32::MAX;

/// One key: its bytes in `WordTable::keys`, its token id (or `NO_TOKEN`) and its form flags.
#[derive(Debug, Clone, Copy)]
pub(super) struct Entry {
    off: u32,
    len: u32,
    pub(super) id: u32,
    pub(super) flags: u8,
}

impl Entry {
    /// The token id, unless the entry is only a form word.
    #[inline]
    pub(super) fn token(&self) -> Option<u32> {
        (self.id != NO_TOKEN).then_some(self.id)
    }
}

#[derive(Debug)]
pub(super) struct WordTable {
    /// `hash << 32 | (entry index + 1)`; 0 is an empty slot.
    slots: Vec<u64>,
    keys: Vec<u8>,
    entries: Vec<Entry>,
    mask: usize,
    /// The longest key, in bytes: a longer word or piece cannot match, so it is not looked up.
    longest: usize,
}

impl WordTable {
    pub(super) fn with_capacity(capacity: usize) -> Self {
        let n = (capacity * 2).next_power_of_two().max(16);
        Self { slots: vec![0; n], keys: Vec::new(), entries: Vec::new(), mask: n - 1, longest: 0 }
    }

    pub(super) fn longest(&self) -> usize {
        self.longest
    }

    fn key(&self, e: &Entry) -> &[u8] {
        &self.keys[e.off as usize..(e.off + e.len) as usize]
    }

    /// The entry for `hash` whose key satisfies `same`, probing from the hash's home slot.
    #[inline]
    fn find(&self, hash: u32, same: impl Fn(&[u8]) -> bool) -> Option<usize> {
        let tag = u64::from(hash) << 32;
        let mut i = hash as usize & self.mask;
        loop {
            let slot = self.slots[i];
            if slot == 0 {
                return None;
            }
            if slot & !0xFFFF_FFFF == tag {
                let e = (slot & 0xFFFF_FFFF) as usize - 1;
                if same(self.key(&self.entries[e])) {
                    return Some(e);
                }
            }
            i = (i + 1) & self.mask;
        }
    }

    /// The entry for `key` (already lower-cased), adding an empty one (no token, no flags) if it is new.
    fn entry_mut(&mut self, key: &[u8]) -> &mut Entry {
        let hash = word_hash(key);
        if let Some(e) = self.find(hash, |k| k == key) {
            return &mut self.entries[e];
        }
        // The table stays at most half full, so there is always an empty slot.
        if self.entries.len() * 2 >= self.slots.len() {
            self.grow();
        }
        let mut i = hash as usize & self.mask;
        while self.slots[i] != 0 {
            i = (i + 1) & self.mask;
        }
        self.slots[i] = u64::from(hash) << 32 | (self.entries.len() as u64 + 1);
        let off = u32::try_from(self.keys.len()).unwrap_or(u32::MAX);
        let len = u32::try_from(key.len()).unwrap_or(u32::MAX);
        self.entries.push(Entry { off, len, id: NO_TOKEN, flags: 0 });
        self.keys.extend_from_slice(key);
        self.longest = self.longest.max(key.len());
        self.entries.last_mut().unwrap_or_else(|| unreachable!("just pushed"))
    }

    fn grow(&mut self) {
        let n = self.slots.len() * 2;
        self.slots = vec![0; n];
        self.mask = n - 1;
        for (e, entry) in self.entries.iter().enumerate() {
            let key = &self.keys[entry.off as usize..(entry.off + entry.len) as usize];
            let hash = word_hash(key);
            let mut i = hash as usize & self.mask;
            while self.slots[i] != 0 {
                i = (i + 1) & self.mask;
            }
            self.slots[i] = u64::from(hash) << 32 | (e as u64 + 1);
        }
    }

    /// Gives `key` the token `id`; a repeated key keeps its first id.
    pub(super) fn insert_token(&mut self, key: &[u8], id: u32) {
        let e = self.entry_mut(key);
        if e.id == NO_TOKEN {
            e.id = id;
        }
    }

    /// Adds form `flags` to `key` (a whole, lower-case word).
    pub(super) fn add_flags(&mut self, key: &[u8], flags: u8) {
        self.entry_mut(key).flags |= flags;
    }

    /// The entry of a word as it appears in the text (any ASCII case), given its `word_hash`.
    #[inline]
    pub(super) fn word(&self, hash: u32, word: &[u8]) -> Option<&Entry> {
        if word.len() > self.longest {
            return None;
        }
        self.find(hash, |k| k.len() == word.len() && k.iter().zip(word).all(|(k, w)| *k == w.to_ascii_lowercase()))
            .map(|e| &self.entries[e])
    }

    /// The token of an exact (lower-case) key: a word's prefix or a `##` piece.
    #[inline]
    pub(super) fn piece(&self, key: &[u8]) -> Option<u32> {
        if key.len() > self.longest {
            return None;
        }
        self.find(word_hash(key), |k| k == key).and_then(|e| self.entries[e].token())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_and_flags_share_an_entry_and_first_ids_win() {
        let mut t = WordTable::with_capacity(2);
        t.insert_token(b"write", 6);
        t.insert_token(b"write", 9);
        t.add_flags(b"write", 1);
        t.add_flags(b"must", 8);
        let e = t.word(word_hash(b"Write"), b"Write").unwrap();
        assert_eq!((e.token(), e.flags), (Some(6), 1));
        let must = t.word(word_hash(b"MUST"), b"MUST").unwrap();
        assert_eq!((must.token(), must.flags), (None, 8));
        // A form word with no token is no piece; pieces are matched exactly (case and all).
        assert_eq!(t.piece(b"must"), None);
        assert_eq!(t.piece(b"write"), Some(6));
        assert_eq!(t.piece(b"Write"), None);
        assert!(t.word(word_hash(b"writes"), b"writes").is_none());
    }

    #[test]
    fn grows_past_its_first_capacity() {
        let mut t = WordTable::with_capacity(1);
        let words: Vec<String> = (0..1000).map(|i| format!("w{i}")).collect();
        for (i, w) in words.iter().enumerate() {
            t.insert_token(w.as_bytes(), i as u32);
        }
        for (i, w) in words.iter().enumerate() {
            assert_eq!(t.piece(w.as_bytes()), Some(i as u32), "{w}");
        }
        assert_eq!(t.longest(), 4);
        assert_eq!(t.piece(b"w1000"), None);
    }
}
