//! Prompt features in one pass over the text: an o200k token estimate, task signals, language, dense
//! shape features and hashed word n-gram ids for the quality predictor.
//!
//! The word/hash/dense part must match `bench/train_router.py::prompt_features` exactly: words are runs of
//! ASCII alphanumerics or non-ASCII bytes, ASCII-lowercased, hashed by [`word_hash`]; a bigram mixes the two
//! words' hashes ([`bigram_hash`]).
//!
//! One file per concern: `hash` (word and bigram hashes), `signals` (task keyword lists), `language`
//! (scripts and stop words), `keywords` (the lookup table over both lists), `tokens` (the o200k estimate),
//! `bytes` (byte classes and the SWAR word scanner); this file holds the one-pass scan that drives them.

mod bytes;
mod hash;
mod keywords;
mod language;
mod signals;
mod tokens;

pub use hash::{bigram_hash, word_hash, WORD_FINISH, WORD_MUL, WORD_SEED};
pub(crate) use hash::{chunk_step, word_finish};
pub use signals::SIGNALS;

pub use bytes::HEAD_CHUNKS;
use bytes::{is_word_byte, scan_word, WordScan, CLASS, LOWER, UPPER};
use keywords::{keyword_table, MAX_KEYWORD_LEN};
use language::Scripts;
use tokens::TokenCounts;

pub const DENSE_NAMES: [&str; 18] = [
    "ln_words",
    "digit_frac",
    "ln_numbers",
    "options",
    "op_frac",
    "mean_word_len",
    "long_word_frac",
    "questions",
    "ln_lines",
    "numeric_options",
    "ln_option_len",
    "signal_code",
    "signal_math",
    "signal_reasoning",
    "signal_extraction",
    "signal_translation",
    "signal_creative",
    "signal_chitchat",
];
pub const N_DENSE: usize = DENSE_NAMES.len();

/// Everything the router knows about a prompt's text.
#[derive(Debug, Clone, PartialEq)]
pub struct TextFeatures {
    /// Estimated tokens under OpenAI's o200k_base.
    pub est_tokens: u32,
    pub bytes: u32,
    pub words: u32,
    pub lines: u32,
    /// Keyword hits per entry of `SIGNALS`.
    pub signal_hits: [u32; 7],
    /// ISO 639-1 code, or "und" when the text has too few letters to tell.
    pub language: &'static str,
    /// The predictor's dense inputs, in `DENSE_NAMES` order (unscaled).
    pub dense: [f64; N_DENSE],
    /// How many hashed ids were emitted (unigrams + bigrams).
    pub n_ids: u32,
}

#[inline]
fn is_op(b: u8) -> bool {
    matches!(b, b'+' | b'-' | b'*' | b'/' | b'=' | b'^' | b'<' | b'>')
}

/// One pass over `text`. Hashed word unigram and bigram ids (mod `buckets`) go to `on_id` as found,
/// with repeats, so callers can accumulate without allocating.
///
/// The loop moves a word at a time: a word's bytes are hashed in a tight loop, and the token estimate
/// sees its letter and digit runs whole; only non-ASCII words take the per-character path.
pub fn scan(text: &str, buckets: u32, on_id: impl FnMut(u32)) -> TextFeatures {
    let buckets = buckets.max(1);
    // A power-of-two bucket count (what training writes) takes a mask instead of a division per id,
    // decided once here rather than per id.
    if buckets.is_power_of_two() {
        scan_with::<true>(text, buckets, on_id)
    } else {
        scan_with::<false>(text, buckets, on_id)
    }
}

#[inline(always)]
fn scan_with<const POW2: bool>(text: &str, buckets: u32, mut on_id: impl FnMut(u32)) -> TextFeatures {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let table = keyword_table();
    let bucket = |h: u32| if POW2 { h & (buckets - 1) } else { h % buckets };

    let mut tokens = TokenCounts::default();
    let mut gap_start = 0usize;
    let mut scripts = Scripts::default();
    let mut signal_hits = [0u32; 7];
    let mut stopword_hits = [0u32; 6];

    let (mut words, mut word_bytes, mut long_words) = (0u32, 0usize, 0u32);
    let (mut digits, mut numbers, mut ops, mut questions, mut newlines) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let (mut options, mut numeric_options, mut option_bytes) = (0u32, 0u32, 0usize);
    let mut option_start: Option<usize> = None;
    let mut option_has_digit = false;
    let mut prev_word: Option<u32> = None;

    let mut i = 0;
    while i < n {
        let b = bytes[i];
        if !is_word_byte(b) {
            match b {
                b'?' => questions += 1,
                b'\n' => {
                    newlines += 1;
                    if let Some(start) = option_start.take() {
                        option_bytes += i - start;
                        numeric_options += u32::from(option_has_digit);
                    }
                }
                _ if is_op(b) => ops += 1,
                _ => {}
            }
            i += 1;
            continue;
        }

        // One word: bytes[start..i], after the gap bytes[gap_start..start].
        let start = i;
        tokens.gap(&bytes[gap_start..start], Some(CLASS[b as usize] & (UPPER | LOWER) != 0 || b >= 0x80));
        let (WordScan { hash: uni, digits: word_digits, numbers: word_numbers, non_ascii, hump, .. }, end) = scan_word(bytes, start);
        i = end;
        let word = &bytes[start..i];
        let len = word.len();

        words += 1;
        word_bytes += len;
        long_words += u32::from(len >= 9);
        digits += word_digits;
        numbers += word_numbers;
        if option_start.is_some() && word_digits > 0 {
            option_has_digit = true;
        }
        on_id(bucket(uni));
        if let Some(prev) = prev_word {
            on_id(bucket(bigram_hash(prev, uni)));
        }
        prev_word = Some(uni);
        if len <= MAX_KEYWORD_LEN {
            if let Some(k) = table.lookup(uni, word) {
                if let Some(s) = k.signal {
                    signal_hits[s as usize] += 1;
                }
                if let Some(l) = k.lang {
                    stopword_hits[l as usize] += 1;
                }
            }
        }
        // An answer option: a line starting "A. " .. "D. ".
        let line_start = start == 0 || bytes[start - 1] == b'\n';
        if line_start && len == 1 && (b'A'..=b'D').contains(&word[0]) && bytes.get(i) == Some(&b'.') && bytes.get(i + 1) == Some(&b' ') {
            options += 1;
            option_start = Some(start + 3);
            option_has_digit = false;
        }

        if non_ascii {
            let w = &text[start..i];
            for c in w.chars() {
                scripts.push(c);
            }
            tokens.unicode_word(w);
        } else {
            scripts.latin += u32::try_from(len).unwrap_or(u32::MAX) - word_digits;
            tokens.ascii_word(word, word_digits, hump);
        }
        gap_start = i;
    }
    tokens.gap(&bytes[gap_start..n], None);
    if let Some(start) = option_start.take() {
        option_bytes += n - start;
        numeric_options += u32::from(option_has_digit);
    }

    let n_bytes = f64::from(u32::try_from(n).unwrap_or(u32::MAX).max(1));
    let fw = f64::from(words.max(1));
    let fo = f64::from(options.max(1));
    let mut dense = [0.0f64; N_DENSE];
    dense[0] = f64::from(words).ln_1p();
    dense[1] = f64::from(digits) / n_bytes;
    dense[2] = f64::from(numbers).ln_1p();
    dense[3] = if options >= 2 { 1.0 } else { 0.0 };
    dense[4] = f64::from(ops) / n_bytes;
    dense[5] = word_bytes as f64 / fw;
    dense[6] = f64::from(long_words) / fw;
    dense[7] = f64::from(questions.min(5));
    dense[8] = f64::from(newlines).ln_1p();
    dense[9] = f64::from(numeric_options) / fo;
    dense[10] = (option_bytes as f64 / fo).ln_1p();
    for (s, hits) in signal_hits.iter().enumerate() {
        dense[11 + s] = f64::from((*hits).min(5)) / 5.0;
    }
    TextFeatures {
        est_tokens: tokens.estimate(),
        bytes: u32::try_from(n).unwrap_or(u32::MAX),
        words,
        lines: newlines + u32::from(n > 0),
        signal_hits,
        language: scripts.language(&stopword_hits),
        dense,
        // A unigram per word and a bigram per adjacent pair.
        n_ids: (2 * words).saturating_sub(1),
    }
}

/// One word as the text pass splits it: `bytes[start..end]`, the [`word_hash`] of its ASCII-lower-cased
/// bytes, and its first `HEAD_CHUNKS * 8` lower-cased bytes as little-endian u64 chunks, zero-padded.
#[derive(Debug, Clone, Copy)]
pub struct Word {
    pub start: usize,
    pub end: usize,
    pub hash: u32,
    pub head: [u64; HEAD_CHUNKS],
}

/// The next word of `bytes` at or after `i`, from the text pass's own 8-bytes-at-a-time scanner, for the
/// passes that must read exactly its words (the static embedding).
#[inline]
#[must_use]
pub fn next_word(bytes: &[u8], mut i: usize) -> Option<Word> {
    while i < bytes.len() && !is_word_byte(bytes[i]) {
        i += 1;
    }
    if i >= bytes.len() {
        return None;
    }
    let (word, end) = scan_word(bytes, i);
    Some(Word { start: i, end, hash: word.hash, head: word.head })
}

/// The text pass when only the features are wanted.
#[must_use]
pub fn features(text: &str) -> TextFeatures {
    scan(text, 1, |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_words_numbers_and_options() {
        let f = features("What is 12 + 30?\nA. 42\nB. 40\nC. forty\nD. 7\nAnswer:");
        assert_eq!(f.words, 13);
        assert_eq!(f.dense[3], 1.0);
        assert!((f.dense[9] - 0.75).abs() < 1e-12, "3 of 4 options hold a digit");
        assert_eq!(f.dense[7], 1.0);
        assert!((f.dense[2] - 5f64.ln_1p()).abs() < 1e-12, "numbers: 12 30 42 40 7");
    }

    #[test]
    fn handles_non_ascii_and_odd_bytes() {
        // Non-ASCII bytes are word bytes, so the dash and the emoji count as words, as in the reference.
        let f = features("naïve café — résumé 東京 🚀");
        assert_eq!(f.words, 6);
        assert!(f.est_tokens > 0);
    }
}
