//! One lookup per word for both keyword lists (task signals and stop words), keyed on the word hash the
//! scan computes anyway.

use std::sync::OnceLock;

use super::hash::word_hash;
use super::language::STOPWORDS;
use super::signals::SIGNAL_WORDS;

#[derive(Clone, Copy)]
pub(super) struct Keyword {
    pub(super) signal: Option<u8>,
    pub(super) lang: Option<u8>,
}

/// The longest signal word or stop word: longer words skip the keyword lookup.
pub(super) const MAX_KEYWORD_LEN: usize = 11;

/// Open addressing on the word hash the scan computes anyway. The probe array holds only the hashes
/// (0 = empty; 8 KB at 2,048 slots, about one in nine used), so a miss, nearly every word, is one load
/// and a well-predicted branch; a hit then reads the slot's entry: the word, its signal and language.
pub(super) struct KeywordTable {
    hashes: Vec<u32>,
    entries: Vec<(&'static str, Keyword)>,
    /// Index into `entries` per slot.
    slot_entry: Vec<u16>,
}

const KEYWORD_SLOTS: usize = 2048;

pub(super) fn keyword_table() -> &'static KeywordTable {
    static TABLE: OnceLock<KeywordTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table =
            KeywordTable { hashes: vec![0; KEYWORD_SLOTS], entries: Vec::new(), slot_entry: vec![0; KEYWORD_SLOTS] };
        let words = SIGNAL_WORDS.iter().enumerate().flat_map(|(s, ws)| ws.split_whitespace().map(move |w| (w, Some(s as u8), None)));
        let stop = STOPWORDS.iter().enumerate().flat_map(|(l, ws)| ws.iter().map(move |w| (*w, None, Some(l as u8))));
        for (w, signal, lang) in words.chain(stop) {
            assert!(w.len() <= MAX_KEYWORD_LEN, "keyword {w} is longer than MAX_KEYWORD_LEN");
            let hash = word_hash(w.as_bytes());
            assert!(hash != 0, "keyword {w} hashes to the empty-slot marker");
            let mut i = hash as usize % KEYWORD_SLOTS;
            while table.hashes[i] != 0 {
                i = (i + 1) % KEYWORD_SLOTS;
            }
            table.hashes[i] = hash;
            table.slot_entry[i] = u16::try_from(table.entries.len()).unwrap_or(u16::MAX);
            table.entries.push((w, Keyword { signal, lang }));
        }
        table
    })
}

impl KeywordTable {
    #[inline(always)]
    pub(super) fn lookup(&self, hash: u32, word: &[u8]) -> Option<Keyword> {
        let mut i = hash as usize % KEYWORD_SLOTS;
        loop {
            let h = self.hashes[i];
            if h == 0 {
                return None;
            }
            if h == hash {
                let (w, k) = &self.entries[usize::from(self.slot_entry[i])];
                if w.as_bytes().eq_ignore_ascii_case(word) {
                    return Some(*k);
                }
            }
            i = (i + 1) % KEYWORD_SLOTS;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_listed_word_is_found_with_its_signal_or_language() {
        let table = keyword_table();
        let find = |w: &str| table.lookup(word_hash(w.as_bytes()), w.as_bytes()).unwrap_or_else(|| panic!("{w} missing"));
        for (s, words) in SIGNAL_WORDS.iter().enumerate() {
            for w in words.split_whitespace() {
                assert_eq!((find(w).signal, find(w).lang), (Some(s as u8), None), "{w}");
                assert_eq!(find(&w.to_ascii_uppercase()).signal, Some(s as u8), "case-blind");
            }
        }
        for (l, words) in STOPWORDS.iter().enumerate() {
            for w in *words {
                assert_eq!((find(w).signal, find(w).lang), (None, Some(l as u8)), "{w}");
            }
        }
        assert!(table.lookup(word_hash(b"mitochondria"), b"mitochondria").is_none());
    }
}
