//! Byte classes and the word scanner: one word at a time, 8 bytes at a time (SWAR).

use super::hash::{chunk_step, word_finish, WORD_SEED};

pub(super) const WORD: u8 = 1;
pub(super) const DIGIT: u8 = 2;
pub(super) const UPPER: u8 = 4;
pub(super) const LOWER: u8 = 8;

/// Byte classes, so the hot loops test one table entry instead of range chains.
pub(super) static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0usize;
    while b < 256 {
        let c = b as u8;
        t[b] = if c.is_ascii_digit() {
            WORD | DIGIT
        } else if c.is_ascii_uppercase() {
            WORD | UPPER
        } else if c.is_ascii_lowercase() {
            WORD | LOWER
        } else if c >= 0x80 {
            WORD
        } else {
            0
        };
        b += 1;
    }
    t
};

#[inline]
pub(super) fn is_word_byte(b: u8) -> bool {
    CLASS[b as usize] & WORD != 0
}

const LO: u64 = 0x0101_0101_0101_0101;
const HI: u64 = 0x8080_8080_8080_8080;

/// 0x80 in each byte of `c` that is ASCII and within `lo..=hi` (`lo >= 1`), 0 elsewhere.
#[inline]
fn bytes_in(c: u64, lo: u8, hi: u8) -> u64 {
    let t = c & !HI;
    let ge = t.wrapping_add(LO * u64::from(0x80 - lo));
    let gt = t.wrapping_add(LO * u64::from(0x7F - hi));
    ge & !gt & !c & HI
}

/// How many bytes of a mask from `bytes_in` are marked. One multiply sums the bytes into the top byte:
/// `count_ones` is a long bit-twiddle on the baseline x86-64 target (no POPCNT).
#[inline(always)]
fn marked(m: u64) -> u32 {
    ((m >> 7).wrapping_mul(LO) >> 56) as u32
}

/// What the scan needs from one word's bytes.
pub(super) struct WordScan {
    pub(super) hash: u32,
    pub(super) digits: u32,
    /// Digit runs.
    pub(super) numbers: u32,
    pub(super) non_ascii: bool,
    /// A lower-case letter followed by an upper-case one (camelCase).
    pub(super) hump: bool,
    /// The word's first `HEAD_CHUNKS * 8` bytes, ASCII-lower-cased, as little-endian chunks, zero-padded
    /// (what the embedding's table compares keys by; the text pass does not read it, so it compiles away).
    pub(super) head: [u64; HEAD_CHUNKS],
}

/// Chunks of a word's head kept in `WordScan::head`.
pub const HEAD_CHUNKS: usize = 3;

/// One word starting at `bytes[start]` (a word byte), 8 bytes at a time (SWAR): finds its end,
/// lower-cases, hashes, and counts digits, digit runs and camelCase humps without a per-byte branch.
/// Returns the word's facts and its end.
#[inline(always)]
pub(super) fn scan_word(bytes: &[u8], start: usize) -> (WordScan, usize) {
    let mut h = WORD_SEED;
    let (mut digits, mut numbers, mut any_high, mut humps) = (0u32, 0u32, 0u64, 0u64);
    let (mut prev_digit, mut prev_lower) = (0u64, 0u64);
    let mut head = [0u64; HEAD_CHUNKS];
    let mut p = start;
    loop {
        let c = if p + 8 <= bytes.len() {
            u64::from_le_bytes(bytes[p..p + 8].try_into().unwrap_or([0; 8]))
        } else {
            // Zero padding is a non-word byte, so the word ends inside this chunk.
            let mut buf = [0u8; 8];
            buf[..bytes.len() - p].copy_from_slice(&bytes[p..]);
            u64::from_le_bytes(buf)
        };
        let (mut upper, mut lower, mut digit) = (bytes_in(c, b'A', b'Z'), bytes_in(c, b'a', b'z'), bytes_in(c, b'0', b'9'));
        let stop = !(upper | lower | digit | c) & HI;
        let (c, k) = if stop == 0 {
            (c, 8)
        } else {
            let k = (stop.trailing_zeros() / 8) as usize;
            let keep = (1u64 << (8 * k)) - 1;
            upper &= keep;
            lower &= keep;
            digit &= keep;
            (c & keep, k)
        };
        if k > 0 {
            any_high |= c & HI;
            // Most chunks of prose hold no digit: a well-predicted branch skips two multiplies.
            if digit != 0 {
                digits += marked(digit);
                numbers += marked(digit & !((digit << 8) | prev_digit));
            }
            humps |= upper & ((lower << 8) | prev_lower);
            prev_digit = digit >> 56;
            prev_lower = lower >> 56;
            // ASCII upper case + 0x20 is lower case: the 0x80 marks shifted down to 0x20.
            let lower_cased = c | (upper >> 2);
            h = chunk_step(h, lower_cased);
            if let Some(slot) = head.get_mut((p - start) / 8) {
                *slot = lower_cased;
            }
        }
        p += k;
        if k < 8 {
            break;
        }
    }
    (WordScan { hash: word_finish(h), digits, numbers, non_ascii: any_high != 0, hump: humps != 0, head }, p)
}
