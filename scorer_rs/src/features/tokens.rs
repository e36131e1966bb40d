//! The o200k token estimate: counts of pre-tokenizer pieces, priced in milli-tokens once at the end.

use super::bytes::{CLASS, DIGIT, LOWER, UPPER};

/// Costs in milli-tokens per o200k pre-tokenizer piece, fitted by least squares on relative error against
/// o200k_base over MMLU/GSM8K prompts, English docs and Python/Rust source (see bench/ROUTING.md).
mod cost {
    pub const WORD_1_3: u64 = 1000;
    pub const WORD_4_6: u64 = 1074;
    pub const WORD_7_9: u64 = 1035;
    pub const WORD_10P: u64 = 946;
    pub const WORD_EXTRA_PER_CHAR: u64 = 145;
    pub const CAPITALISED: u64 = 41;
    pub const NON_ASCII_LETTER: u64 = 715;
    pub const DIGIT_GROUP: u64 = 1000;
    pub const PUNCT_RUN: u64 = 923;
    pub const NEWLINE_RUN: u64 = 1135;
    pub const SPACE_RUN: u64 = 906;
    pub const LEADING_PUNCT: u64 = 344;
    pub const CJK_CHAR: u64 = 1000;
}

/// Piece counts for the o200k estimate; the cost is applied once at the end, so the hot loop only counts.
#[derive(Default)]
pub(super) struct TokenCounts {
    /// Letter pieces by length 1..=10 (index 10 holds 10 and longer).
    words_by_len: [u32; 11],
    extra_chars: u64,
    capitalised: u32,
    digit_groups: u32,
    punct_runs: u32,
    newline_runs: u32,
    space_runs: u32,
    leading_punct: u32,
    non_ascii_letters: u32,
    cjk: u32,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum GapRun {
    Space,
    Newline,
    Punct,
}

#[inline]
fn gap_run(b: u8) -> GapRun {
    match b {
        b'\n' | b'\r' => GapRun::Newline,
        b' ' | b'\t' | 0x0B | 0x0C | 0x1C..=0x1F => GapRun::Space,
        _ => GapRun::Punct,
    }
}

impl TokenCounts {
    #[inline]
    fn letters(&mut self, len: usize, capital: bool) {
        self.words_by_len[len.min(10)] += 1;
        self.extra_chars += len.saturating_sub(10) as u64;
        self.capitalised += u32::from(capital);
    }

    #[inline]
    fn digits(&mut self, len: usize) {
        self.digit_groups += len.div_ceil(3) as u32;
    }

    /// The ASCII bytes between two words. A lone space before a word or punctuation is folded into it,
    /// and a lone punctuation mark before letters mostly merges with them, as o200k's pieces do.
    #[inline(always)]
    pub(super) fn gap(&mut self, gap: &[u8], next_is_letter: Option<bool>) {
        if gap.len() == 1 && gap[0] == b' ' && next_is_letter.is_some() {
            return;
        }
        let mut k = 0;
        while k < gap.len() {
            let kind = gap_run(gap[k]);
            let start = k;
            while k < gap.len() && gap_run(gap[k]) == kind {
                k += 1;
            }
            let single = k - start == 1;
            let last = k == gap.len();
            let next_is_punct = !last && gap_run(gap[k]) == GapRun::Punct;
            match kind {
                GapRun::Space if single && (next_is_punct || (last && next_is_letter.is_some())) => {}
                GapRun::Punct if single && last && next_is_letter == Some(true) => self.leading_punct += 1,
                GapRun::Space => self.space_runs += 1,
                GapRun::Newline => self.newline_runs += 1,
                GapRun::Punct => self.punct_runs += 1,
            }
        }
    }

    /// An ASCII word: its letter runs (split at camelCase humps) and digit runs.
    #[inline(always)]
    pub(super) fn ascii_word(&mut self, word: &[u8], digits: u32, hump: bool) {
        let len = word.len();
        if digits == 0 && !hump {
            self.letters(len, CLASS[word[0] as usize] & UPPER != 0);
            return;
        }
        if digits as usize == len {
            self.digits(len);
            return;
        }
        let mut k = 0;
        while k < len {
            let s = k;
            if CLASS[word[k] as usize] & DIGIT != 0 {
                while k < len && CLASS[word[k] as usize] & DIGIT != 0 {
                    k += 1;
                }
                self.digits(k - s);
            } else {
                let mut prev = CLASS[word[k] as usize];
                k += 1;
                while k < len {
                    let c = CLASS[word[k] as usize];
                    if c & (UPPER | LOWER) == 0 || (c & UPPER != 0 && prev & LOWER != 0) {
                        break;
                    }
                    prev = c;
                    k += 1;
                }
                self.letters(k - s, CLASS[word[s] as usize] & UPPER != 0);
            }
        }
    }

    /// A word holding non-ASCII characters, a character at a time (the rare path).
    pub(super) fn unicode_word(&mut self, word: &str) {
        #[derive(PartialEq, Clone, Copy)]
        enum Kind {
            Letters,
            Cjk,
            Digits,
            Other,
        }
        let mut run: Option<(Kind, usize, bool, bool)> = None; // (kind, len, all ascii, capital)
        let close = |counts: &mut Self, run: Option<(Kind, usize, bool, bool)>| match run {
            Some((Kind::Letters, len, true, cap)) => counts.letters(len, cap),
            Some((Kind::Letters, len, false, _)) => counts.non_ascii_letters += len as u32,
            Some((Kind::Cjk, len, _, _)) => counts.cjk += len as u32,
            Some((Kind::Digits, len, _, _)) => counts.digits(len),
            Some((Kind::Other, _, _, _)) => counts.punct_runs += 1,
            None => {}
        };
        for c in word.chars() {
            let kind = if c.is_alphabetic() {
                if u32::from(c) >= 0x2E80 {
                    Kind::Cjk
                } else {
                    Kind::Letters
                }
            } else if c.is_numeric() {
                Kind::Digits
            } else {
                Kind::Other
            };
            match &mut run {
                Some((k, len, ascii, _)) if *k == kind => {
                    *len += 1;
                    *ascii &= c.is_ascii();
                }
                _ => {
                    close(self, run.take());
                    run = Some((kind, 1, c.is_ascii(), c.is_uppercase()));
                }
            }
        }
        close(self, run);
    }

    pub(super) fn estimate(&self) -> u32 {
        let w = &self.words_by_len;
        let short = u64::from(w[1] + w[2] + w[3]);
        let mid = u64::from(w[4] + w[5] + w[6]);
        let long = u64::from(w[7] + w[8] + w[9]);
        let milli = short * cost::WORD_1_3
            + mid * cost::WORD_4_6
            + long * cost::WORD_7_9
            + u64::from(w[10]) * cost::WORD_10P
            + self.extra_chars * cost::WORD_EXTRA_PER_CHAR
            + u64::from(self.capitalised) * cost::CAPITALISED
            + u64::from(self.non_ascii_letters) * cost::NON_ASCII_LETTER
            + u64::from(self.digit_groups) * cost::DIGIT_GROUP
            + u64::from(self.punct_runs) * cost::PUNCT_RUN
            + u64::from(self.newline_runs) * cost::NEWLINE_RUN
            + u64::from(self.space_runs) * cost::SPACE_RUN
            + u64::from(self.leading_punct) * cost::LEADING_PUNCT
            + u64::from(self.cjk) * cost::CJK_CHAR;
        u32::try_from((milli + 500) / 1000).unwrap_or(u32::MAX)
    }
}

#[cfg(test)]
mod tests {
    use crate::features::features;

    #[test]
    fn token_estimate_tracks_o200k_on_known_samples() {
        // o200k_base counts from tiktoken / bpe-openai.
        let english = "The quick brown fox jumps over the lazy dog. It was the best of times, it was the worst of times.";
        let est = f64::from(features(english).est_tokens);
        assert!((est - 24.0).abs() / 24.0 <= 0.15, "english estimate {est}");
        assert_eq!(features("").est_tokens, 0);
        assert!(features("hello").est_tokens == 1);
        assert!(features("1234567").est_tokens == 3, "digits go in groups of three");
    }

    #[test]
    fn token_estimate_grows_linearly() {
        let ten = features(&"The cat sat on the mat. ".repeat(10)).est_tokens;
        let thousand = features(&"The cat sat on the mat. ".repeat(1000)).est_tokens;
        assert!((f64::from(thousand) / f64::from(ten) - 100.0).abs() < 5.0);
    }
}
