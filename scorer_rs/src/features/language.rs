//! The language guess: the dominant script, and for Latin script the language whose stop words occur most.

/// Latin-script languages told apart by frequent function words (none of them is a signal word).
pub(super) const STOPWORD_LANGS: [&str; 6] = ["en", "es", "fr", "de", "pt", "it"];
pub(super) const STOPWORDS: [&[&str]; 6] = [
    &["the", "and", "is", "of", "to", "with", "that", "this", "are", "was", "what", "for"],
    &["el", "los", "las", "que", "por", "para", "una", "es", "del", "como", "pero", "y"],
    &["le", "les", "des", "et", "est", "une", "dans", "pour", "pas", "sur", "au", "ce"],
    &["der", "die", "und", "das", "ist", "nicht", "ein", "eine", "mit", "auf", "ich", "zu"],
    &["os", "uma", "com", "n\u{e3}o", "s\u{e3}o", "voc\u{ea}", "tamb\u{e9}m", "isso", "mais", "ao"],
    &["il", "gli", "della", "sono", "che", "non", "di", "per", "anche", "questo", "nel", "alla"],
];

/// Counts per script for the language guess.
#[derive(Default)]
pub(super) struct Scripts {
    pub(super) latin: u32,
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
    pub(super) fn push(&mut self, c: char) {
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

    pub(super) fn language(&self, stopword_hits: &[u32; 6]) -> &'static str {
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

#[cfg(test)]
mod tests {
    use crate::features::features;

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
}
