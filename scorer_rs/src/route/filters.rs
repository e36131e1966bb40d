//! The hard filters: what a request needs beyond its text, and why a model cannot take it.

use crate::features::TextFeatures;

use super::ModelSpec;

/// What the request needs beyond its text.
#[derive(Debug, Clone, Default)]
pub struct Needs {
    pub tools: bool,
    pub vision: bool,
    pub json: bool,
    pub max_tokens: Option<u32>,
    /// Tokens the text pass does not see: images, tool schemas, message framing.
    pub extra_input_tokens: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rejection {
    ContextWindow,
    MaxOutput,
    Tools,
    Vision,
    Json,
    /// Every offer's estimated cost is over the request's `max_cost_usd`.
    MaxCost,
    /// The predicted quality is under the request's `min_quality`.
    MinQuality,
}

impl Rejection {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContextWindow => "context_window",
            Self::MaxOutput => "max_output",
            Self::Tools => "tools",
            Self::Vision => "vision",
            Self::Json => "json",
            Self::MaxCost => "max_cost_usd",
            Self::MinQuality => "min_quality",
        }
    }
}

/// Expected completion length: the request's `max_tokens` caps a guess from the task.
#[must_use]
pub fn expected_output_tokens(f: &TextFeatures, max_tokens: Option<u32>) -> u32 {
    let guess = match f.task() {
        "chitchat" => 80,
        "extraction" => 250,
        "math" => 350,
        "reasoning" => 450,
        "code" => 600,
        "creative" => 700,
        "translation" => f.est_tokens.clamp(50, 2000),
        _ => 300,
    };
    max_tokens.map_or(guess, |m| guess.min(m))
}

pub(super) fn reject(spec: &ModelSpec, needs: &Needs, input_tokens: u32, output_tokens: u32) -> Option<Rejection> {
    if needs.tools && !spec.tools {
        return Some(Rejection::Tools);
    }
    if needs.vision && !spec.vision {
        return Some(Rejection::Vision);
    }
    if needs.json && !spec.json {
        return Some(Rejection::Json);
    }
    if needs.max_tokens.is_some_and(|m| m > spec.max_output) {
        return Some(Rejection::MaxOutput);
    }
    let reserve = needs.max_tokens.unwrap_or(output_tokens.min(spec.max_output));
    if u64::from(input_tokens) + u64::from(reserve) > u64::from(spec.context_window) {
        return Some(Rejection::ContextWindow);
    }
    None
}
