//! Prompt features in one pass over the text: an o200k token estimate, task signals, language, dense
//! shape features and hashed word n-gram ids for the quality predictor.
//!
//! The word/hash/dense part must match `bench/train_router.py::prompt_features` exactly: words are runs of
//! ASCII alphanumerics or non-ASCII bytes, ASCII-lowercased, hashed with 32-bit FNV-1a; a bigram continues
//! the previous word's hash with a space and the next word.

use std::sync::OnceLock;

pub const FNV_OFFSET: u32 = 0x811C_9DC5;
pub const FNV_PRIME: u32 = 0x0100_0193;

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
    hash: u32,
    signal: Option<u8>,
    lang: Option<u8>,
}

struct KeywordTable {
    entries: Vec<(Keyword, &'static str)>, // sorted by hash
}

fn keyword_table() -> &'static KeywordTable {
    static TABLE: OnceLock<KeywordTable> = OnceLock::new();
    TABLE.get_or_init(|| {
        let mut entries: Vec<(Keyword, &'static str)> = Vec::new();
        for (s, words) in SIGNAL_WORDS.iter().enumerate() {
            for w in *words {
                entries.push((Keyword { hash: fnv1a(w.as_bytes(), FNV_OFFSET), signal: Some(s as u8), lang: None }, w));
            }
        }
        for (l, words) in STOPWORDS.iter().enumerate() {
            for w in *words {
                entries.push((Keyword { hash: fnv1a(w.as_bytes(), FNV_OFFSET), signal: None, lang: Some(l as u8) }, w));
            }
        }
        entries.sort_by_key(|(k, _)| k.hash);
        KeywordTable { entries }
    })
}

impl KeywordTable {
    fn lookup(&self, hash: u32, word: &[u8]) -> Option<Keyword> {
        let i = self.entries.partition_point(|(k, _)| k.hash < hash);
        self.entries[i..]
            .iter()
            .take_while(|(k, _)| k.hash == hash)
            .find(|(_, w)| w.as_bytes() == word)
            .map(|(k, _)| *k)
    }
}

#[inline]
#[must_use]
pub fn fnv1a(data: &[u8], mut h: u32) -> u32 {
    for &b in data {
        h = (h ^ u32::from(b)).wrapping_mul(FNV_PRIME);
    }
    h
}

#[inline]
fn fnv_step(h: u32, b: u8) -> u32 {
    (h ^ u32::from(b)).wrapping_mul(FNV_PRIME)
}

/// Token-estimate classes for o200k's pre-tokenizer pieces.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Piece {
    None,
    Letters,
    Digits,
    Punct,
    Space,
    Newline,
    Cjk,
}

/// Costs in milli-tokens per piece, fitted by least squares on relative error against o200k_base over
/// MMLU/GSM8K prompts, English docs and Python/Rust source (see bench/ROUTING.md).
mod cost {
    pub const WORD_1_3: u32 = 1000;
    pub const WORD_4_6: u32 = 1074;
    pub const WORD_7_9: u32 = 1035;
    pub const WORD_10P: u32 = 946;
    pub const WORD_EXTRA_PER_CHAR: u32 = 145;
    pub const CAPITALISED: u32 = 41;
    pub const NON_ASCII_LETTER: u32 = 715;
    pub const DIGIT_GROUP: u32 = 1000;
    pub const PUNCT_RUN: u32 = 923;
    pub const NEWLINE_RUN: u32 = 1135;
    pub const SPACE_RUN: u32 = 906;
    pub const LEADING_PUNCT: u32 = 344;
    pub const CJK_CHAR: u32 = 1000;
}

struct TokenEstimator {
    milli: u64,
    piece: Piece,
    run: u32,
    ascii: bool,
    capital: bool,
    prev_lower: bool,
}

impl TokenEstimator {
    fn new() -> Self {
        Self { milli: 0, piece: Piece::None, run: 0, ascii: true, capital: false, prev_lower: false }
    }

    fn flush(&mut self) {
        let run = self.run;
        self.milli += u64::from(match self.piece {
            Piece::None => 0,
            Piece::Letters if !self.ascii => cost::NON_ASCII_LETTER * run,
            Piece::Letters => {
                let base = match run {
                    0..=3 => cost::WORD_1_3,
                    4..=6 => cost::WORD_4_6,
                    7..=9 => cost::WORD_7_9,
                    _ => cost::WORD_10P + cost::WORD_EXTRA_PER_CHAR * (run - 10),
                };
                base + if self.capital { cost::CAPITALISED } else { 0 }
            }
            Piece::Digits => cost::DIGIT_GROUP * run.div_ceil(3),
            Piece::Punct => cost::PUNCT_RUN,
            Piece::Space => cost::SPACE_RUN,
            Piece::Newline => cost::NEWLINE_RUN,
            Piece::Cjk => cost::CJK_CHAR * run,
        });
    }

    #[inline]
    fn push(&mut self, c: char) {
        let piece = if c.is_alphabetic() {
            if u32::from(c) >= 0x2E80 {
                Piece::Cjk
            } else {
                Piece::Letters
            }
        } else if c.is_numeric() {
            Piece::Digits
        } else if c == '\n' || c == '\r' {
            Piece::Newline
        } else if c.is_whitespace() {
            Piece::Space
        } else {
            Piece::Punct
        };
        let upper = c.is_uppercase();
        // o200k starts a new word at a lower-to-upper case change (camelCase).
        let continues = piece == self.piece && !(piece == Piece::Letters && upper && self.prev_lower);
        if continues {
            self.run += 1;
            if piece == Piece::Letters && !c.is_ascii() {
                self.ascii = false;
            }
        } else {
            let next_is_word = matches!(piece, Piece::Letters | Piece::Digits | Piece::Punct);
            if self.piece == Piece::Space && self.run == 1 && next_is_word {
                // A single space is folded into the next word's piece.
            } else if self.piece == Piece::Punct && self.run == 1 && piece == Piece::Letters {
                self.milli += u64::from(cost::LEADING_PUNCT);
            } else {
                self.flush();
            }
            self.piece = piece;
            self.run = 1;
            self.ascii = c.is_ascii();
            self.capital = upper;
        }
        self.prev_lower = c.is_lowercase();
    }

    fn finish(mut self) -> u32 {
        self.flush();
        u32::try_from((self.milli + 500) / 1000).unwrap_or(u32::MAX)
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

#[inline]
fn is_word_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b >= 0x80
}

#[inline]
fn is_op(b: u8) -> bool {
    matches!(b, b'+' | b'-' | b'*' | b'/' | b'=' | b'^' | b'<' | b'>')
}

/// One pass over `text`. Hashed word unigram and bigram ids (mod `buckets`) go to `on_id` as found,
/// with repeats, so callers can accumulate without allocating.
pub fn scan(text: &str, buckets: u32, mut on_id: impl FnMut(u32)) -> TextFeatures {
    let bytes = text.as_bytes();
    let n = bytes.len();
    let table = keyword_table();
    let buckets = buckets.max(1);

    let mut tokens = TokenEstimator::new();
    let mut scripts = Scripts::default();
    let mut signal_hits = [0u32; 7];
    let mut stopword_hits = [0u32; 6];

    let (mut words, mut word_bytes, mut long_words, mut n_ids) = (0u32, 0u64, 0u32, 0u32);
    let (mut digits, mut numbers, mut ops, mut questions, mut newlines) = (0u32, 0u32, 0u32, 0u32, 0u32);
    let (mut options, mut numeric_options, mut option_bytes) = (0u32, 0u32, 0u64);
    let mut option_start: Option<usize> = None;
    let mut option_has_digit = false;

    let mut word_start: Option<usize> = None;
    let mut uni = FNV_OFFSET;
    let mut bi = 0u32;
    let mut prev_word: Option<u32> = None;
    let mut lower = [0u8; 16]; // the word, lowercased, while it is short enough to be a keyword
    let mut prev_digit = false;

    let mut end_word = |start: usize, end: usize, uni: u32, bi: u32, lower: &[u8; 16], prev_word: &mut Option<u32>| {
        let len = end - start;
        words += 1;
        word_bytes += len as u64;
        if len >= 9 {
            long_words += 1;
        }
        on_id(uni % buckets);
        n_ids += 1;
        if prev_word.is_some() {
            on_id(bi % buckets);
            n_ids += 1;
        }
        *prev_word = Some(uni);
        if len <= lower.len() {
            if let Some(k) = table.lookup(uni, &lower[..len]) {
                if let Some(s) = k.signal {
                    signal_hits[s as usize] += 1;
                }
                if let Some(l) = k.lang {
                    stopword_hits[l as usize] += 1;
                }
            }
        }
    };

    let mut i = 0;
    while i < n {
        let b = bytes[i];
        // Character-level state: the token estimate and the script counts.
        let char_len = if b < 0x80 {
            tokens.push(char::from(b));
            if b.is_ascii_alphabetic() {
                scripts.latin += 1;
            }
            1
        } else {
            let c = text[i..].chars().next().unwrap_or('\u{FFFD}');
            tokens.push(c);
            scripts.push(c);
            c.len_utf8()
        };
        // Byte-level state: words and hashes, digits, operators, option lines.
        for j in i..i + char_len {
            let b = bytes[j];
            if is_word_byte(b) {
                let lb = b.to_ascii_lowercase();
                if word_start.is_none() {
                    word_start = Some(j);
                    uni = FNV_OFFSET;
                    bi = prev_word.map_or(0, |h| fnv_step(h, b' '));
                }
                uni = fnv_step(uni, lb);
                bi = fnv_step(bi, lb);
                let k = j - word_start.unwrap_or(j);
                if k < lower.len() {
                    lower[k] = lb;
                }
            } else if let Some(start) = word_start.take() {
                end_word(start, j, uni, bi, &lower, &mut prev_word);
            }
            let is_digit = b.is_ascii_digit();
            if is_digit {
                digits += 1;
                if !prev_digit {
                    numbers += 1;
                }
                if option_start.is_some() {
                    option_has_digit = true;
                }
            }
            prev_digit = is_digit;
            match b {
                b'?' => questions += 1,
                b'\n' => {
                    newlines += 1;
                    if let Some(start) = option_start.take() {
                        option_bytes += (j - start) as u64;
                        numeric_options += u32::from(option_has_digit);
                    }
                }
                _ if is_op(b) => ops += 1,
                _ => {}
            }
            let line_start = j == 0 || bytes[j - 1] == b'\n';
            if line_start && (b'A'..=b'D').contains(&b) && bytes.get(j + 1) == Some(&b'.') && bytes.get(j + 2) == Some(&b' ')
            {
                options += 1;
                option_start = Some(j + 3);
                option_has_digit = false;
            }
        }
        i += char_len;
    }
    if let Some(start) = word_start.take() {
        end_word(start, n, uni, bi, &lower, &mut prev_word);
    }
    if let Some(start) = option_start.take() {
        option_bytes += (n - start) as u64;
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
        est_tokens: tokens.finish(),
        bytes: u32::try_from(n).unwrap_or(u32::MAX),
        words,
        lines: newlines + u32::from(n > 0),
        signal_hits,
        language: scripts.language(&stopword_hits),
        dense,
        n_ids,
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
        // FNV-1a 32 of "hello" is 0x4f9f2cab; the bigram continues it with " world".
        let hello = fnv1a(b"hello", FNV_OFFSET);
        assert_eq!(hello, 0x4f9f_2cab);
        let got = ids("Hello, WORLD", u32::MAX);
        let world = fnv1a(b"world", FNV_OFFSET);
        let bigram = fnv1a(b" world", hello);
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
