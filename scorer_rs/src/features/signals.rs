//! Task signals: the keyword lists behind `TextFeatures::signal_hits` and the dense `signal_*` features,
//! and what the hits say about the prompt's task.

use super::TextFeatures;

/// Task signals, in the order of `TextFeatures::signal_hits` and of the dense `signal_*` features.
pub const SIGNALS: [&str; 7] = ["code", "math", "reasoning", "extraction", "translation", "creative", "chitchat"];

/// Keywords per signal, in `SIGNALS` order, separated by spaces.
pub(super) const SIGNAL_WORDS: [&str; 7] = [
    "def function class return import code python javascript typescript rust java sql compile \
     compiler bug debug regex algorithm array variable const struct fn println printf async await \
     null string int void loop recursion script html css json",
    "solve equation integral derivative calculate compute sum probability theorem math number numbers \
     percent total average multiply divide fraction ratio matrix polynomial prime integer geometry \
     algebra cost how many much",
    "why explain reason step therefore because analyze analyse compare logic logical prove proof \
     argue argument implies infer deduce evaluate justify consequence hypothesis conclude conclusion \
     think",
    "extract list summarize summarise summary identify parse table fields entities classify label tag \
     keywords bullet outline",
    "translate translation translated french spanish german chinese japanese korean italian \
     portuguese russian arabic english language",
    "write story poem creative imagine song fiction character lyrics haiku novel plot essay limerick \
     narrative dialogue joke",
    "hi hello hey thanks thank lol morning evening bye cheers sup yo please you your doing ok okay \
     cool nice",
];

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

#[cfg(test)]
mod tests {
    use crate::features::features;

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
}
