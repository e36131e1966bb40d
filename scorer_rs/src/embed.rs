//! Static token embedding: the mean of distilled MiniLM token vectors over a prompt's WordPiece tokens,
//! plus the form features read from the same words.
//!
//! Must match `bench/router_v2/{wordpiece,represent}.py` exactly (parity tests compare them): words are runs
//! of ASCII alphanumerics or non-ASCII bytes, ASCII-lower-cased; the first `MAX_WORDS` are read; each is
//! looked up whole, then split greedily longest-match-first into `##` pieces; a word that cannot be split, or
//! is longer than `MAX_WORD_BYTES`, adds nothing. The table is int8 with one scale per dimension, so the
//! sum is exact in integers.

/// Words read per prompt: the mean settles long before, and it bounds the cost of a long prompt.
pub const MAX_WORDS: usize = 512;
pub const MAX_WORD_BYTES: usize = 100;
const MAGIC: &[u8; 8] = b"SWEMB1\0\0";
const EMPTY: u32 = u32::MAX;

/// Form features, in `FORM_NAMES` order (the Python reference's `represent.FORM_NAMES`).
pub const FORM_NAMES: [&str; 7] =
    ["starts_imperative", "starts_question", "ends_question", "length_request", "ln_constraints", "code_fence", "latex"];
pub const N_FORM: usize = FORM_NAMES.len();

const IMPERATIVE: &[&str] = &[
    "write", "explain", "describe", "list", "create", "generate", "summarize", "summarise", "give", "translate",
    "compose", "draft", "make", "tell", "provide", "suggest", "design", "implement", "rewrite", "find", "compute",
    "calculate", "solve", "convert", "classify", "edit", "name", "outline", "plan", "build", "develop", "help",
    "show", "compare", "analyze", "analyse", "discuss", "evaluate", "prove", "imagine", "pretend", "act", "answer",
    "complete", "fill", "identify", "determine", "choose", "select", "rank", "sort", "fix", "debug", "refactor",
];
const QUESTION: &[&str] = &[
    "what", "which", "who", "whom", "whose", "how", "why", "when", "where", "is", "are", "does", "do", "did", "can",
    "could", "would", "should", "will", "was", "were", "has", "have",
];
const LENGTH: &[&str] = &[
    "words", "word", "sentences", "sentence", "paragraph", "paragraphs", "brief", "briefly", "concise", "concisely",
    "detailed", "detail", "short", "long", "essay", "page", "pages", "bullet", "points", "summary",
];
const CONSTRAINT: &[&str] = &[
    "must", "should", "exactly", "least", "most", "only", "without", "avoid", "ensure", "include", "format", "never",
    "always", "limit", "maximum", "minimum", "strictly", "require", "required",
];
const F_IMPERATIVE: u8 = 1;
const F_QUESTION: u8 = 2;
const F_LENGTH: u8 = 4;
const F_CONSTRAINT: u8 = 8;

#[inline]
fn is_word_byte(b: u8) -> bool {
    b >= 0x80 || b.is_ascii_alphanumeric()
}

/// Multiply-xorshift over 8-byte chunks; only a table key, never stored.
#[inline]
fn key_hash(s: &[u8]) -> u64 {
    let mut h: u64 = 0x9E37_79B9_7F4A_7C15 ^ s.len() as u64;
    for c in s.chunks(8) {
        let mut buf = [0u8; 8];
        buf[..c.len()].copy_from_slice(c);
        h = (h ^ u64::from_le_bytes(buf)).wrapping_mul(0xFF51_AFD7_ED55_8CCD);
        h ^= h >> 29;
    }
    h.wrapping_mul(0xC4CE_B9FE_1A85_EC53)
}

/// Open addressing from a byte string to a u32 (token id or flags), verified against the stored key.
#[derive(Debug)]
struct ByteMap {
    slots: Vec<u32>,
    keys: Vec<u8>,
    /// (offset into `keys`, length, value) per entry; `slots` hold entry indices.
    entries: Vec<(u32, u32, u32)>,
    mask: usize,
}

impl ByteMap {
    fn new(capacity: usize) -> Self {
        let n = (capacity * 2).next_power_of_two().max(16);
        Self { slots: vec![EMPTY; n], keys: Vec::new(), entries: Vec::new(), mask: n - 1 }
    }

    fn key(&self, entry: u32) -> &[u8] {
        let (off, len, _) = self.entries[entry as usize];
        &self.keys[off as usize..(off + len) as usize]
    }

    /// Inserts `key -> value`; a repeated key keeps its first value.
    fn insert(&mut self, key: &[u8], value: u32) {
        let mut i = key_hash(key) as usize & self.mask;
        while self.slots[i] != EMPTY {
            if self.key(self.slots[i]) == key {
                return;
            }
            i = (i + 1) & self.mask;
        }
        self.slots[i] = self.entries.len() as u32;
        self.entries.push((self.keys.len() as u32, key.len() as u32, value));
        self.keys.extend_from_slice(key);
    }

    #[inline]
    fn get(&self, key: &[u8]) -> Option<u32> {
        let mut i = key_hash(key) as usize & self.mask;
        loop {
            let e = self.slots[i];
            if e == EMPTY {
                return None;
            }
            if self.key(e) == key {
                return Some(self.entries[e as usize].2);
            }
            i = (i + 1) & self.mask;
        }
    }
}

fn form_words() -> ByteMap {
    let mut m = ByteMap::new(160);
    let mut flags: Vec<(&str, u8)> = Vec::new();
    for (list, flag) in [(IMPERATIVE, F_IMPERATIVE), (QUESTION, F_QUESTION), (LENGTH, F_LENGTH), (CONSTRAINT, F_CONSTRAINT)] {
        for w in list {
            match flags.iter_mut().find(|(x, _)| x == w) {
                Some((_, f)) => *f |= flag,
                None => flags.push((w, flag)),
            }
        }
    }
    for (w, f) in flags {
        m.insert(w.as_bytes(), u32::from(f));
    }
    m
}

/// The distilled token table and its vocabulary.
#[derive(Debug)]
pub struct StaticEmbedding {
    dims: usize,
    scale: Vec<f64>,
    rows: Vec<i8>,
    vocab: ByteMap,
    form: ByteMap,
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
        let rows = raw[16 + 4 * dims..body].iter().map(|&b| b as i8).collect();
        let words: Vec<&[u8]> = raw[body..].split(|&b| b == b'\n').collect();
        if words.len() != n {
            return Err(format!("static embedding table lists {} words for {n} rows", words.len()));
        }
        let mut vocab = ByteMap::new(n);
        for (i, w) in words.iter().enumerate() {
            vocab.insert(w, i as u32);
        }
        Ok(Self { dims, scale, rows, vocab, form: form_words() })
    }

    #[must_use]
    pub fn dims(&self) -> usize {
        self.dims
    }

    /// One pass over the first `MAX_WORDS` words: token rows summed in i32, then scaled and normalised.
    #[must_use]
    pub fn embed(&self, text: &str) -> Embedded {
        let bytes = text.as_bytes();
        let mut acc = vec![0i32; self.dims];
        let mut tokens = 0u32;
        let mut form = [0.0; N_FORM];
        let mut constraints = 0u32;
        let mut buf = [0u8; MAX_WORD_BYTES + 2];
        let (mut i, mut words) = (0usize, 0usize);
        while i < bytes.len() && words < MAX_WORDS {
            while i < bytes.len() && !is_word_byte(bytes[i]) {
                i += 1;
            }
            let start = i;
            while i < bytes.len() && is_word_byte(bytes[i]) {
                i += 1;
            }
            if i == start {
                break;
            }
            let word = &bytes[start..i];
            let first = words == 0;
            words += 1;
            if word.len() > MAX_WORD_BYTES {
                continue;
            }
            let low = &mut buf[2..2 + word.len()];
            for (d, s) in low.iter_mut().zip(word) {
                *d = s.to_ascii_lowercase();
            }
            if let Some(f) = self.form.get(low) {
                let f = f as u8;
                if first {
                    form[0] = f64::from(f & F_IMPERATIVE != 0);
                    form[1] = f64::from(f & F_QUESTION != 0);
                }
                if f & F_LENGTH != 0 {
                    form[3] = 1.0;
                }
                constraints += u32::from(f & F_CONSTRAINT != 0);
            }
            tokens += self.add_pieces(&mut buf, word.len(), &mut acc);
        }
        form[2] = f64::from(text.trim_end().ends_with('?'));
        form[4] = f64::from(constraints).ln_1p();
        form[5] = f64::from(text.contains("```"));
        form[6] = f64::from(text.contains("\\frac") || text.contains('$') || text.contains("\\("));
        let mut vector: Vec<f64> = acc.iter().zip(&self.scale).map(|(&a, &s)| f64::from(a) * s).collect();
        let norm = vector.iter().map(|v| v * v).sum::<f64>().sqrt();
        if norm > 0.0 {
            vector.iter_mut().for_each(|v| *v /= norm);
        }
        Embedded { vector, form, tokens }
    }

    fn add_row(&self, id: u32, acc: &mut [i32]) {
        let row = &self.rows[id as usize * self.dims..(id as usize + 1) * self.dims];
        for (a, &r) in acc.iter_mut().zip(row) {
            *a += i32::from(r);
        }
    }

    /// WordPiece of the lower-cased word at `buf[2..2 + len]`; returns the tokens added (0 when it cannot
    /// be split, as the reference skips it). `buf[..2]` is scratch for the `##` prefix.
    fn add_pieces(&self, buf: &mut [u8], len: usize, acc: &mut [i32]) -> u32 {
        if let Some(id) = self.vocab.get(&buf[2..2 + len]) {
            self.add_row(id, acc);
            return 1;
        }
        let mut ids = [0u32; MAX_WORD_BYTES];
        let mut n = 0;
        let mut start = 0;
        while start < len {
            // The piece key is `##` + word[start..end] (or the bare prefix at the word's start). The two
            // bytes before word[start] are already consumed, so they can hold the `##`.
            let key_start = if start == 0 { 2 } else { start };
            if start > 0 {
                buf[start] = b'#';
                buf[start + 1] = b'#';
            }
            let mut end = len;
            let mut found = None;
            while end > start {
                if let Some(id) = self.vocab.get(&buf[key_start..2 + end]) {
                    found = Some(id);
                    break;
                }
                end -= 1;
            }
            match found {
                Some(id) => {
                    ids[n] = id;
                    n += 1;
                    start = end;
                }
                None => return 0,
            }
        }
        for &id in &ids[..n] {
            self.add_row(id, acc);
        }
        n as u32
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

    #[test]
    fn rejects_bad_tables() {
        assert!(StaticEmbedding::parse(b"nope").is_err());
        let mut raw = toy_table();
        raw.truncate(30);
        assert!(StaticEmbedding::parse(&raw).unwrap_err().contains("truncated"));
    }
}
