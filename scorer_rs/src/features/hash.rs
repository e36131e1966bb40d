//! The chunked word hash and the bigram mix. Both must match `bench/train_router.py` bit for bit:
//! words are hashed 8 bytes at a time (a multiply-xorshift per little-endian chunk, then one multiply
//! keeping the high 32 bits). A chunked hash has no per-byte multiply chain, unlike FNV-1a.

/// Seed and multiplier of the chunked word hash.
pub const WORD_SEED: u64 = 0x9E37_79B9_7F4A_7C15;
pub const WORD_MUL: u64 = 0xFF51_AFD7_ED55_8CCD;
pub const WORD_FINISH: u64 = 0xC4CE_B9FE_1A85_EC53;

/// One 8-byte chunk (little-endian, zero-padded) into the running word hash.
#[inline]
pub(crate) fn chunk_step(h: u64, chunk: u64) -> u64 {
    let h = (h ^ chunk).wrapping_mul(WORD_MUL);
    h ^ (h >> 32)
}

/// One more multiply, keeping the product's high 32 bits (each depends on every input bit).
#[inline]
pub(crate) fn word_finish(h: u64) -> u32 {
    (h.wrapping_mul(WORD_FINISH) >> 32) as u32
}

/// The hash of one (already lower-cased) word, as the scan computes it.
#[must_use]
pub fn word_hash(word: &[u8]) -> u32 {
    let mut h = WORD_SEED;
    for chunk in word.chunks(8) {
        let mut buf = [0u8; 8];
        for (d, s) in buf.iter_mut().zip(chunk) {
            *d = s.to_ascii_lowercase();
        }
        h = chunk_step(h, u64::from_le_bytes(buf));
    }
    word_finish(h)
}

/// A bigram's hash from its two words' hashes (a multiply-xorshift mix; the Python reference matches).
#[inline]
#[must_use]
pub fn bigram_hash(prev: u32, cur: u32) -> u32 {
    let h = (prev ^ 0x9E37_79B9).wrapping_mul(0x85EB_CA6B) ^ cur;
    let h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::features::scan;

    fn ids(text: &str, buckets: u32) -> Vec<u32> {
        let mut out = Vec::new();
        scan(text, buckets, |id| out.push(id));
        out
    }

    #[test]
    fn hashes_unigrams_then_bigrams_like_the_python_reference() {
        // The word hash is case-blind and matches `word_hash`; the bigram mixes the two word hashes.
        let hello = word_hash(b"hello");
        assert_eq!(hello, 0x538e_aaf5, "bench/train_router.py::word_hash gives the same");
        assert_eq!(hello, word_hash(b"HeLLo"));
        assert_ne!(word_hash(b"abcdefgh"), word_hash(b"abcdefghi"));
        let got = ids("Hello, WORLD", u32::MAX);
        let world = word_hash(b"world");
        let bigram = bigram_hash(hello, world);
        assert_eq!(got, vec![hello % u32::MAX, world % u32::MAX, bigram % u32::MAX]);
    }
}
