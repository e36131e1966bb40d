//! Static token embedding: the mean of distilled MiniLM token vectors over a prompt's WordPiece tokens,
//! plus the form features read from the same words.
//!
//! Must match `bench/router_v2/{wordpiece,represent}.py` exactly (parity tests compare them): words are runs
//! of ASCII alphanumerics or non-ASCII bytes, ASCII-lower-cased; the first `MAX_WORDS` are read; each is
//! looked up whole, then split greedily longest-match-first into `##` pieces; a word that cannot be split, or
//! is longer than `MAX_WORD_BYTES`, adds nothing. The table is int8 with one scale per dimension, so the
//! sum is exact in integers.
//!
//! `table` holds the one hash table every word is looked up in (tokens and form flags together), `form`
//! the form features.

mod form;
mod table;

use std::cell::RefCell;

pub use form::{FORM_NAMES, N_FORM};

use crate::features::next_word;
use form::{form_words, FormWords};
use table::{Entry, WordTable};

/// Words read per prompt: the mean settles long before, and it bounds the cost of a long prompt.
pub const MAX_WORDS: usize = 512;
pub const MAX_WORD_BYTES: usize = 100;
const MAGIC: &[u8; 8] = b"SWEMB1\0\0";

/// The distilled token table and its vocabulary.
#[derive(Debug)]
pub struct StaticEmbedding {
    dims: usize,
    scale: Vec<f64>,
    /// The int8 rows stored biased by +128 (as u8): they then add into u16 lanes by zero-extension, twice
    /// as many per instruction as i8 into i32, and the bias comes off once per group (`sum_rows`).
    rows: Vec<u8>,
    words: WordTable,
}

/// The exact integer sum of the rows of `ids` (each `dims` wide, biased by +128): a block of 64 lanes at a
/// time, over up to 256 rows at a time, in u16 lanes that stay in registers (256 x 255 < 65,536), then
/// unbiased into i32. Summing after the lookups keeps this loop tight: the lanes never go to memory per row.
fn sum_rows(rows: &[u8], dims: usize, ids: &[u32]) -> Vec<i32> {
    const BLOCK: usize = 64;
    const GROUP: usize = 256;
    let mut sum = vec![0i32; dims];
    for group in ids.chunks(GROUP) {
        #[allow(clippy::cast_possible_truncation, clippy::cast_possible_wrap)] // group.len() <= GROUP
        let bias = 128 * group.len() as i32;
        for (b, out) in sum.chunks_mut(BLOCK).enumerate() {
            let mut lanes = [0u16; BLOCK];
            let from = b * BLOCK;
            if out.len() == BLOCK {
                for &id in group {
                    // A fixed-size row lets LLVM keep `lanes` in registers (the slice is BLOCK long: never the fallback).
                    let row: &[u8; BLOCK] = rows[id as usize * dims + from..][..BLOCK].try_into().unwrap_or(&[128; BLOCK]);
                    for (l, &r) in lanes.iter_mut().zip(row) {
                        *l += u16::from(r);
                    }
                }
            } else {
                for &id in group {
                    for (l, &r) in lanes.iter_mut().zip(&rows[id as usize * dims + from..][..out.len()]) {
                        *l += u16::from(r);
                    }
                }
            }
            for (o, &l) in out.iter_mut().zip(&lanes) {
                *o += i32::from(l) - bias;
            }
        }
    }
    sum
}

/// A prompt's embedding (L2-normalised; zeros when no word is in the vocabulary) and form features.
#[derive(Debug, Clone, PartialEq)]
pub struct Embedded {
    pub vector: Vec<f64>,
    pub form: [f64; N_FORM],
    pub tokens: u32,
}

impl StaticEmbedding {
    /// Parses `MAGIC, u32 tokens, u32 dims, f32 scale[dims], i8 table[tokens][dims], vocabulary lines`.
    pub fn parse(raw: &[u8]) -> Result<Self, String> {
        if raw.len() < 16 || &raw[..8] != MAGIC {
            return Err("not a static embedding table (bad magic)".into());
        }
        let u32_at = |o: usize| u32::from_le_bytes([raw[o], raw[o + 1], raw[o + 2], raw[o + 3]]) as usize;
        let (n, dims) = (u32_at(8), u32_at(12));
        let body = 16 + 4 * dims + n * dims;
        if dims == 0 || raw.len() < body {
            return Err(format!("static embedding table truncated: {} bytes for {n} x {dims}", raw.len()));
        }
        let scale = (0..dims).map(|d| f64::from(f32::from_le_bytes(raw[16 + 4 * d..20 + 4 * d].try_into().unwrap_or([0; 4])))).collect();
        let rows = raw[16 + 4 * dims..body].iter().map(|&b| b ^ 0x80).collect();
        let vocab: Vec<&[u8]> = raw[body..].split(|&b| b == b'\n').collect();
        if vocab.len() != n {
            return Err(format!("static embedding table lists {} words for {n} rows", vocab.len()));
        }
        let mut words = WordTable::with_capacity(n + 160);
        for (i, w) in vocab.iter().enumerate() {
            words.insert_token(w, u32::try_from(i).map_err(|_| "static embedding table: too many rows")?);
        }
        for (w, flags) in form_words() {
            words.add_flags(w.as_bytes(), flags);
        }
        Ok(Self { dims, scale, rows, words })
    }

    #[must_use]
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// One pass over the first `MAX_WORDS` words: token rows summed exactly in integers, then scaled and
    /// normalised.
    #[must_use]
    pub fn embed(&self, text: &str) -> Embedded {
        thread_local! {
            /// The token ids of the text being embedded: one buffer per thread, reused, as every route
            /// embeds a prompt (the passes run with the GIL released, so threads embed at once).
            static IDS: RefCell<Vec<u32>> = RefCell::new(Vec::with_capacity(MAX_WORDS * 2));
        }
        IDS.with_borrow_mut(|ids| {
            ids.clear();
            let form = self.token_ids(text.as_bytes(), ids);
            let mut vector: Vec<f64> = sum_rows(&self.rows, self.dims, ids).iter().zip(&self.scale).map(|(&a, &s)| f64::from(a) * s).collect();
            let norm = vector.iter().map(|v| v * v).sum::<f64>().sqrt();
            if norm > 0.0 {
                vector.iter_mut().for_each(|v| *v /= norm);
            }
            let tokens = u32::try_from(ids.len()).unwrap_or(u32::MAX);
            Embedded { vector, form: form.features(text), tokens }
        })
    }

    /// The token ids of the first `MAX_WORDS` words into `ids` (looked up first, summed after, so the
    /// lookups and the sums each run in a tight loop), and the form features read from the same words.
    fn token_ids(&self, bytes: &[u8], ids: &mut Vec<u32>) -> FormWords {
        let mut form = FormWords::default();
        let mut words = 0;
        let mut at = 0;
        while words < MAX_WORDS {
            let Some(word) = next_word(bytes, at) else { break };
            at = word.end;
            words += 1;
            if word.end - word.start > MAX_WORD_BYTES {
                form.word(0);
                continue;
            }
            // One probe: the whole word's token (if any) and its form flags.
            let entry = self.words.word(bytes, &word);
            form.word(entry.map_or(0, |e| e.flags));
            match entry.and_then(Entry::token) {
                Some(id) => ids.push(id),
                None => self.add_pieces(&bytes[word.start..word.end], ids),
            }
        }
        form
    }

    /// WordPiece of a word that is not a token whole: its pieces' ids go to `out` (none when it cannot be
    /// split, as the reference skips it): greedy longest-match-first, one `longest_token_prefix` per piece.
    fn add_pieces(&self, word: &[u8], out: &mut Vec<u32>) {
        let len = word.len();
        // The lower-cased word at buf[2..]; buf[..2] is scratch for the `##` prefix.
        let mut buf = [0u8; MAX_WORD_BYTES + 2];
        for (d, s) in buf[2..2 + len].iter_mut().zip(word) {
            *d = s.to_ascii_lowercase();
        }
        let mut ids = [0u32; MAX_WORD_BYTES];
        let mut n = 0;
        let mut start = 0;
        while start < len {
            // A piece after the first is `##` + word[start..end]: the two bytes before word[start] are
            // already consumed, so they can hold the `##`.
            let (key_start, min_len) = if start == 0 { (2, 1) } else { (start, 3) };
            if start > 0 {
                buf[start] = b'#';
                buf[start + 1] = b'#';
            }
            let Some((id, key_len)) = self.words.longest_token_prefix(&buf[key_start..2 + len], min_len) else {
                return;
            };
            ids[n] = id;
            n += 1;
            start = key_start + key_len - 2;
        }
        out.extend_from_slice(&ids[..n]);
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A toy table: 2 dims, a handful of words and pieces.
    pub(crate) fn toy_table() -> Vec<u8> {
        let vocab = ["[PAD]", "the", "cat", "un", "##believ", "##able", "write", "must", "##s"];
        let rows: [[i8; 2]; 9] = [[0, 0], [1, 0], [0, 5], [2, 2], [3, -1], [1, 1], [-4, 4], [0, 1], [1, 1]];
        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(&(vocab.len() as u32).to_le_bytes());
        raw.extend_from_slice(&2u32.to_le_bytes());
        raw.extend_from_slice(&0.5f32.to_le_bytes());
        raw.extend_from_slice(&0.25f32.to_le_bytes());
        raw.extend(rows.iter().flatten().map(|&v| v as u8));
        raw.extend_from_slice(vocab.join("\n").as_bytes());
        raw
    }

    #[test]
    fn whole_words_and_greedy_pieces() {
        let t = StaticEmbedding::parse(&toy_table()).unwrap();
        let e = t.embed("The CAT, unbelievable!");
        // the + cat + un ##believ ##able = [7, 7], scaled by [0.5, 0.25]
        assert_eq!(e.tokens, 5);
        let n = (3.5f64 * 3.5 + 1.75 * 1.75).sqrt();
        assert!((e.vector[0] - 3.5 / n).abs() < 1e-12 && (e.vector[1] - 1.75 / n).abs() < 1e-12);
        // A word that cannot be split adds nothing; plural via ##s.
        assert_eq!(t.embed("zzz").tokens, 0);
        assert_eq!(t.embed("zzz").vector, vec![0.0, 0.0]);
        assert_eq!(t.embed("cats").tokens, 2);
    }

    #[test]
    fn form_features_read_the_words() {
        let t = StaticEmbedding::parse(&toy_table()).unwrap();
        let e = t.embed("Write a short poem; it must rhyme and must scan. Use $x$?");
        assert_eq!(e.form[0], 1.0);
        assert_eq!(e.form[1], 0.0);
        assert_eq!(e.form[2], 1.0);
        assert_eq!(e.form[3], 1.0);
        assert!((e.form[4] - 2f64.ln_1p()).abs() < 1e-12);
        assert_eq!(e.form[6], 1.0);
        assert_eq!(t.embed("What is it").form[1], 1.0);
    }

    #[test]
    fn only_the_first_words_count_and_long_words_are_skipped() {
        let t = StaticEmbedding::parse(&toy_table()).unwrap();
        let text = format!("{} cat", "x ".repeat(MAX_WORDS));
        assert_eq!(t.embed(&text).tokens, 0);
        assert_eq!(t.embed(&"a".repeat(MAX_WORD_BYTES + 1)).tokens, 0);
    }

    /// The reference's WordPiece, written plainly (no length bound, a plain map), for the fast path to match.
    fn naive_pieces(vocab: &std::collections::HashMap<Vec<u8>, u32>, word: &[u8]) -> Vec<u32> {
        if let Some(&id) = vocab.get(word) {
            return vec![id];
        }
        let (mut out, mut start) = (Vec::new(), 0);
        while start < word.len() {
            let found = (start + 1..=word.len()).rev().find_map(|end| {
                let key = if start == 0 { word[..end].to_vec() } else { [b"##", &word[start..end]].concat() };
                vocab.get(&key).map(|&id| (id, end))
            });
            let Some((id, end)) = found else { return Vec::new() };
            out.push(id);
            start = end;
        }
        out
    }

    #[test]
    fn pieces_match_a_plain_wordpiece_and_form_words_are_no_pieces() {
        // "should" is a form word but no token; "sh" and "##ould" are, so it is split like any other word.
        let vocab = ["a", "ab", "abc", "##c", "##bc", "##d", "sh", "##ould", "##o", "##u", "##l", "x"];
        let map: std::collections::HashMap<Vec<u8>, u32> = vocab.iter().enumerate().map(|(i, w)| (w.as_bytes().to_vec(), i as u32)).collect();
        let mut raw = MAGIC.to_vec();
        raw.extend_from_slice(&(vocab.len() as u32).to_le_bytes());
        raw.extend_from_slice(&1u32.to_le_bytes());
        raw.extend_from_slice(&1f32.to_le_bytes());
        raw.extend((0..vocab.len()).map(|i| 1u8 << i.min(6)));
        raw.extend_from_slice(vocab.join("\n").as_bytes());
        let t = StaticEmbedding::parse(&raw).unwrap();
        let letters = b"abcdxshoul";
        let mut seed = 7u64;
        for _ in 0..3000 {
            seed = seed.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            let len = 1 + (seed >> 60) as usize;
            let word: Vec<u8> = (0..len).map(|k| letters[((seed >> (4 * k % 56)) % letters.len() as u64) as usize]).collect();
            let want = naive_pieces(&map, &word);
            let got = t.embed(std::str::from_utf8(&word).unwrap());
            assert_eq!(got.tokens as usize, want.len(), "{}", String::from_utf8_lossy(&word));
            let sum: i64 = want.iter().map(|&id| i64::from(1i8 << id.min(6))).sum();
            assert_eq!(got.vector[0], if sum == 0 { 0.0 } else { (sum as f64).signum() }, "{}", String::from_utf8_lossy(&word));
        }
        assert_eq!(t.embed("should").tokens, 2);
    }

    #[test]
    fn many_rows_sum_exactly_past_a_u16_group() {
        // 511 rows of (-4, 4) and one of (0, 5): two groups of u16 lanes, and the sum stays exact.
        let t = StaticEmbedding::parse(&toy_table()).unwrap();
        let e = t.embed(&format!("{}cat", "write ".repeat(MAX_WORDS - 1)));
        assert_eq!(e.tokens as usize, MAX_WORDS);
        let (x, y) = (-4.0 * 511.0 * 0.5, (4.0 * 511.0 + 5.0) * 0.25);
        let n = f64::hypot(x, y);
        assert!((e.vector[0] - x / n).abs() < 1e-12 && (e.vector[1] - y / n).abs() < 1e-12, "{:?}", e.vector);
    }

    #[test]
    fn row_sums_are_exact_in_full_and_partial_blocks() {
        // 130 dims: two 64-lane blocks and a 2-lane rest; 600 rows: two full groups of 256 and a part.
        let (dims, n) = (130usize, 7u32);
        let signed = |id: u32, d: usize| -> i8 { ((id as usize * 37 + d * 11) % 256) as u8 as i8 };
        let rows: Vec<u8> = (0..n).flat_map(|id| (0..dims).map(move |d| signed(id, d) as u8 ^ 0x80)).collect();
        let ids: Vec<u32> = (0..600).map(|i| (i * 5 + i / 7) % n).collect();
        let want: Vec<i32> = (0..dims).map(|d| ids.iter().map(|&id| i32::from(signed(id, d))).sum()).collect();
        assert_eq!(sum_rows(&rows, dims, &ids), want);
        assert_eq!(sum_rows(&rows, dims, &[]), vec![0; dims]);
    }

    #[test]
    fn rejects_bad_tables() {
        assert!(StaticEmbedding::parse(b"nope").is_err());
        let mut raw = toy_table();
        raw.truncate(30);
        assert!(StaticEmbedding::parse(&raw).unwrap_err().contains("truncated"));
    }
}
