//! Prompt features in one pass over the text: an o200k token estimate, task signals, language, dense
//! shape features and hashed word n-gram ids for the quality predictor.
//!
//! The word/hash/dense part must match `bench/train_router.py::prompt_features` exactly: words are runs of
//! ASCII alphanumerics or non-ASCII bytes, ASCII-lowercased, hashed 8 bytes at a time (`word_hash`: a
//! multiply-xorshift per little-endian chunk, then one multiply keeping the high 32 bits); a bigram mixes the two
//! words' hashes (`bigram_hash`). A chunked hash has no per-byte multiply chain, unlike FNV-1a.

use std::sync::OnceLock;

/// Seed and multiplier of the chunked word hash.
pub const WORD_SEED: u64 = 0x9E37_79B9_7F4A_7C15;
pub const WORD_MUL: u64 = 0xFF51_AFD7_ED55_8CCD;
pub const WORD_FINISH: u64 = 0xC4CE_B9FE_1A85_EC53;

/// Task signals, in the order of `TextFeatures::signal_hits` and of the dense `signal_*` features.
pub const SIGNALS: [&str; 7] = ["code", "math", "reasoning", "extraction", "translation", "creative", "chitchat"];

const SIGNAL_WORDS: [&[&str]; 7] = [
    &[
        "def", "function", "class", "return", "import", "code", "python", "javascript", "typescript", "rust",
        "java", "sql", "compile", "compiler", "bug", "debug", "regex", "algorithm", "array", "variable",
        "const", "struct", "fn", "println", "printf", "async", "await", "null", "string", "int", "void", "loop",
        "recursion", "script", "html", "css", "json",
    ],
    &[
        "solve", "equation", "integral", "derivative", "calculate", "compute", "sum", "probability", "theorem",
        "math", "number", "numbers", "percent", "total", "average", "multiply", "divide", "fraction", "ratio",
        "matrix", "polynomial", "prime", "integer", "geometry", "algebra", "cost", "how", "many", "much",
    ],
    &[
        "why", "explain", "reason", "step", "therefore", "because", "analyze", "analyse", "compare", "logic",
        "logical", "prove", "proof", "argue", "argument", "implies", "infer", "deduce", "evaluate", "justify",
        "consequence", "hypothesis", "conclude", "conclusion", "think",
    ],
    &[
        "extract", "list", "summarize", "summarise", "summary", "identify", "parse", "table", "fields",
        "entities", "classify", "label", "tag", "keywords", "bullet", "outline",
    ],
    &[
        "translate", "translation", "translated", "french", "spanish", "german", "chinese", "japanese",
        "korean", "italian", "portuguese", "russian", "arabic", "english", "language",
    ],
    &[
        "write", "story", "poem", "creative", "imagine", "song", "fiction", "character", "lyrics", "haiku",
        "novel", "plot", "essay", "limerick", "narrative", "dialogue", "joke",
    ],
    &[
        "hi", "hello", "hey", "thanks", "thank", "lol", "morning", "evening", "bye", "cheers", "sup", "yo",
        "please", "you", "your", "doing", "ok", "okay", "cool", "nice",
    ],
];

/// Latin-script languages told apart by frequent function words (none of them is a signal word).
const STOPWORD_LANGS: [&str; 6] = ["en", "es", "fr", "de", "pt", "it"];
const STOPWORDS: [&[&str]; 6] = [
    &["the", "and", "is", "of", "to", "with", "that", "this", "are", "was", "what", "for"],
    &["el", "los", "las", "que", "por", "para", "una", "es", "del", "como", "pero", "y"],
    &["le", "les", "des", "et", "est", "une", "dans", "pour", "pas", "sur", "au", "ce"],
    &["der", "die", "und", "das", "ist", "nicht", "ein", "eine", "mit", "auf", "ich", "zu"],
    &["os", "uma", "com", "n\u{e3}o", "s\u{e3}o", "voc\u{ea}", "tamb\u{e9}m", "isso", "mais", "ao"],
    &["il", "gli", "della", "sono", "che", "non", "di", "per", "anche", "questo", "nel", "alla"],
];

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

impl TextFeatures {
    /// Each signal's strength in 0..1 (5 keyword hits saturate).
    #[must_use]
    pub fn signal_strength(&self, i: usize) -> f64 {
        f64::from(self.signal_hits[i].min(5)) / 5.0
    }

    /// The strongest task signal, or "general" when none fired.
    #[must_use]
    pub fn task(&self) -> &'static str {
        let (best, hits) = self.signal_hits.iter().enumerate().max_by_key(|(i, h)| (**h, usize::MAX - i)).unwrap();
        if *hits == 0 {
            "general"
        } else {
            SIGNALS[best]
        }
    }
}

#[derive(Clone, Copy)]
struct Keyword {
    signal: Option<u8>,
    lang: Option<u8>,
}

/// The longest signal word or stop word: longer words skip the keyword lookup.
const MAX_KEYWORD_LEN: usize = 11;

/// Open addressing on the word hash the scan computes anyway. The probe array holds only the hashes
/// (0 = empty; 8 KB at 2,048 slots, about one in nine used), so a miss, nearly every word, is one load
/// and a well-predicted branch; a hit then reads the slot's entry: the word, its signal and language.
struct KeywordTable {
    hashes: Vec<u32>,
    entries: Vec<(&'static str, Keyword)>,
    /// Index into `entries` per slot.
    slot_entry: Vec<u16>,
}

const KEYWORD_SLOTS: usize = 2048;

fn keyword_table() -> &'static KeywordTable {
    static TABLE: OnceLock<KeywordTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut table =
            KeywordTable { hashes: vec![0; KEYWORD_SLOTS], entries: Vec::new(), slot_entry: vec![0; KEYWORD_SLOTS] };
        let words = SIGNAL_WORDS.iter().enumerate().flat_map(|(s, ws)| ws.iter().map(move |w| (*w, Some(s as u8), None)));
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
    fn lookup(&self, hash: u32, word: &[u8]) -> Option<Keyword> {
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

/// One 8-byte chunk (little-endian, zero-padded) into the running word hash.
#[inline]
fn chunk_step(h: u64, chunk: u64) -> u64 {
    let h = (h ^ chunk).wrapping_mul(WORD_MUL);
    h ^ (h >> 32)
}

/// One more multiply, keeping the product's high 32 bits (each depends on every input bit).
#[inline]
fn word_finish(h: u64) -> u32 {
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
struct TokenCounts {
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
    fn gap(&mut self, gap: &[u8], next_is_letter: Option<bool>) {
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
    fn ascii_word(&mut self, word: &[u8], digits: u32, hump: bool) {
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
    fn unicode_word(&mut self, word: &str) {
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

    fn estimate(&self) -> u32 {
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

/// Counts per script for the language guess.
#[derive(Default)]
struct Scripts {
    latin: u32,
    cyrillic: u32,
    greek: u32,
    arabic: u32,
    hebrew: u32,
    devanagari: u32,
    han: u32,
    kana: u32,
    hangul: u32,
    thai: u32,
}

impl Scripts {
    #[inline]
    fn push(&mut self, c: char) {
        let u = u32::from(c);
        match u {
            0x41..=0x5A | 0x61..=0x7A | 0xC0..=0x24F => self.latin += 1,
            0x370..=0x3FF => self.greek += 1,
            0x400..=0x4FF => self.cyrillic += 1,
            0x590..=0x5FF => self.hebrew += 1,
            0x600..=0x6FF => self.arabic += 1,
            0x900..=0x97F => self.devanagari += 1,
            0xE00..=0xE7F => self.thai += 1,
            0x3040..=0x30FF => self.kana += 1,
            0x4E00..=0x9FFF | 0x3400..=0x4DBF => self.han += 1,
            0xAC00..=0xD7AF | 0x1100..=0x11FF => self.hangul += 1,
            _ => {}
        }
    }

    fn language(&self, stopword_hits: &[u32; 6]) -> &'static str {
        let scripts = [
            (self.kana * 3 + self.han, "ja_or_zh"),
            (self.hangul, "ko"),
            (self.cyrillic, "ru"),
            (self.greek, "el"),
            (self.arabic, "ar"),
            (self.hebrew, "he"),
            (self.devanagari, "hi"),
            (self.thai, "th"),
            (self.latin, "latin"),
        ];
        let (count, script) = scripts.iter().copied().max_by_key(|(n, _)| *n).unwrap_or((0, "und"));
        if count < 3 {
            return "und";
        }
        match script {
            "ja_or_zh" => {
                if self.kana > 0 {
                    "ja"
                } else {
                    "zh"
                }
            }
            "latin" => {
                let (best, hits) = stopword_hits.iter().enumerate().max_by_key(|(i, h)| (**h, usize::MAX - i)).unwrap();
                if *hits == 0 {
                    "en"
                } else {
                    STOPWORD_LANGS[best]
                }
            }
            other => other,
        }
    }
}

const WORD: u8 = 1;
const DIGIT: u8 = 2;
const UPPER: u8 = 4;
const LOWER: u8 = 8;

/// Byte classes, so the hot loops test one table entry instead of range chains.
static CLASS: [u8; 256] = {
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
fn is_word_byte(b: u8) -> bool {
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
struct WordScan {
    hash: u32,
    digits: u32,
    /// Digit runs.
    numbers: u32,
    non_ascii: bool,
    /// A lower-case letter followed by an upper-case one (camelCase).
    hump: bool,
}

/// One word starting at `bytes[start]` (a word byte), 8 bytes at a time (SWAR): finds its end,
/// lower-cases, hashes, and counts digits, digit runs and camelCase humps without a per-byte branch.
/// Returns the word's facts and its end.
#[inline(always)]
fn scan_word(bytes: &[u8], start: usize) -> (WordScan, usize) {
    let mut h = WORD_SEED;
    let (mut digits, mut numbers, mut any_high, mut humps) = (0u32, 0u32, 0u64, 0u64);
    let (mut prev_digit, mut prev_lower) = (0u64, 0u64);
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
            digits += marked(digit);
            numbers += marked(digit & !((digit << 8) | prev_digit));
            humps |= upper & ((lower << 8) | prev_lower);
            prev_digit = digit >> 56;
            prev_lower = lower >> 56;
            // ASCII upper case + 0x20 is lower case: the 0x80 marks shifted down to 0x20.
            h = chunk_step(h, c | (upper >> 2));
        }
        p += k;
        if k < 8 {
            break;
        }
    }
    (WordScan { hash: word_finish(h), digits, numbers, non_ascii: any_high != 0, hump: humps != 0 }, p)
}

/// A bigram's hash from its two words' hashes (a multiply-xorshift mix; the Python reference matches).
#[inline]
#[must_use]
pub fn bigram_hash(prev: u32, cur: u32) -> u32 {
    let h = (prev ^ 0x9E37_79B9).wrapping_mul(0x85EB_CA6B) ^ cur;
    let h = h.wrapping_mul(0xC2B2_AE35);
    h ^ (h >> 16)
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
        let (WordScan { hash: uni, digits: word_digits, numbers: word_numbers, non_ascii, hump }, end) = scan_word(bytes, start);
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

/// The text pass when only the features are wanted.
#[must_use]
pub fn features(text: &str) -> TextFeatures {
    scan(text, 1, |_| {})
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn task_signals_fire_on_their_keywords() {
        let code = features("Write a python function that returns the reversed array; fix the bug in this code.");
        assert_eq!(code.task(), "code");
        let math = features("Solve the equation and calculate the probability that the sum is prime.");
        assert_eq!(math.task(), "math");
        let tr = features("Translate this sentence into French and Spanish.");
        assert_eq!(tr.task(), "translation");
        let chat = features("hi! thanks, how are you doing?");
        assert_eq!(chat.task(), "chitchat");
        assert_eq!(features("The mitochondria.").task(), "general");
    }

    #[test]
    fn guesses_the_language() {
        assert_eq!(features("What is the capital of France and why is it there?").language, "en");
        assert_eq!(features("¿Cuál es la capital de Francia y por qué es una ciudad tan grande?").language, "es");
        assert_eq!(features("Quelle est la capitale de la France et pourquoi est-elle dans le nord?").language, "fr");
        assert_eq!(features("Was ist die Hauptstadt von Deutschland und warum ist das nicht Bonn?").language, "de");
        assert_eq!(features("Какая столица России?").language, "ru");
        assert_eq!(features("日本の首都はどこですか").language, "ja");
        assert_eq!(features("中国的首都是哪里").language, "zh");
        assert_eq!(features("??").language, "und");
    }

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

    #[test]
    fn handles_non_ascii_and_odd_bytes() {
        // Non-ASCII bytes are word bytes, so the dash and the emoji count as words, as in the reference.
        let f = features("naïve café — résumé 東京 🚀");
        assert_eq!(f.words, 6);
        assert!(f.est_tokens > 0);
    }
}
