//! Form features: what the prompt asks for rather than what it is about (an instruction or a question,
//! a requested length, constraints, code, LaTeX). Must match `bench/router_v2/represent.py::form_features`.
//!
//! The word lists become flags on the embedding table's entries, so the embedding pass reads them from the
//! same probe that finds a word's token; the rest are read from the whole text.

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
pub(super) const F_IMPERATIVE: u8 = 1;
pub(super) const F_QUESTION: u8 = 2;
pub(super) const F_LENGTH: u8 = 4;
pub(super) const F_CONSTRAINT: u8 = 8;

/// Every form word with its flags (a word on several lists carries each list's flag).
pub(super) fn form_words() -> impl Iterator<Item = (&'static str, u8)> {
    [(IMPERATIVE, F_IMPERATIVE), (QUESTION, F_QUESTION), (LENGTH, F_LENGTH), (CONSTRAINT, F_CONSTRAINT)]
        .into_iter()
        .flat_map(|(list, flag)| list.iter().map(move |w| (*w, flag)))
}

/// The features read from the words, accumulated as the embedding pass meets them.
#[derive(Default)]
pub(super) struct FormWords {
    first: Option<u8>,
    length: bool,
    constraints: u32,
}

impl FormWords {
    /// One word's flags (0 when it is on no list), in text order.
    #[inline]
    pub(super) fn word(&mut self, flags: u8) {
        self.first.get_or_insert(flags);
        self.length |= flags & F_LENGTH != 0;
        self.constraints += u32::from(flags & F_CONSTRAINT != 0);
    }

    /// All seven features: these from the words, the rest from the whole `text`.
    pub(super) fn features(&self, text: &str) -> [f64; N_FORM] {
        let first = self.first.unwrap_or(0);
        let (code_fence, latex) = code_and_latex(text.as_bytes());
        [
            f64::from(first & F_IMPERATIVE != 0),
            f64::from(first & F_QUESTION != 0),
            f64::from(text.trim_end().ends_with('?')),
            f64::from(self.length),
            f64::from(self.constraints).ln_1p(),
            f64::from(code_fence),
            f64::from(latex),
        ]
    }
}

/// Whether `text` holds a code fence (```) and LaTeX (`$`, `\frac` or `\(`), in one pass: blocks of 32 bytes
/// are screened for the three marker bytes (a branch-free loop LLVM vectorises), and only a block holding
/// one is read byte by byte. It replaces four whole-text searches.
fn code_and_latex(text: &[u8]) -> (bool, bool) {
    const BLOCK: usize = 32;
    let (mut fence, mut latex) = (false, false);
    let mut read = |from: usize, to: usize| {
        for (i, &b) in text[from..to].iter().enumerate() {
            let rest = &text[from + i..];
            match b {
                b'`' => fence |= rest.starts_with(b"```"),
                b'$' => latex = true,
                b'\\' => latex |= rest.starts_with(b"\\frac") || rest.starts_with(b"\\("),
                _ => {}
            }
        }
        fence && latex
    };
    let blocks = text.chunks_exact(BLOCK);
    let tail = text.len() - blocks.remainder().len();
    for (k, block) in blocks.enumerate() {
        let mut marks = 0u8;
        for &b in block {
            marks |= u8::from(b == b'`') | u8::from(b == b'$') | u8::from(b == b'\\');
        }
        if marks != 0 && read(k * BLOCK, (k + 1) * BLOCK) {
            return (true, true);
        }
    }
    read(tail, text.len());
    (fence, latex)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn code_and_latex_match_the_substring_searches() {
        let cases = [
            "", "plain", "`` `", "a```b", "$", "\\fra", "\\frac{1}{2}", "x \\( y", "\\", "``", "tail``",
        ];
        for base in cases {
            // Markers at every offset, so a block boundary falls inside each of them.
            for pad in 0..40 {
                let text = format!("{}{base}", "p".repeat(pad));
                let want = (text.contains("```"), text.contains('$') || text.contains("\\frac") || text.contains("\\("));
                assert_eq!(code_and_latex(text.as_bytes()), want, "{text:?}");
            }
        }
    }

    #[test]
    fn words_on_several_lists_carry_each_flag() {
        let should: u8 = form_words().filter(|(w, _)| *w == "should").fold(0, |f, (_, g)| f | g);
        assert_eq!(should, F_QUESTION | F_CONSTRAINT);
    }
}
