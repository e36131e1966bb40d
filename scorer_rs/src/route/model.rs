//! What routing knows about a model and what it asks of the quality predictor.

use crate::features::TextFeatures;
use crate::predictor::Ability;

/// What ranking needs from the quality predictor about one prompt: the seam where a predictor plugs in.
/// Today's is `predictor::PromptLatent` (a latent vector dotted with each model's ability); another
/// predictor implements this for its own per-prompt output and `rank_offers` takes it unchanged.
pub trait PromptQuality {
    /// The text pass's features (token estimate, task signals).
    fn text_features(&self) -> &TextFeatures;
    /// P(good answer) from `model` on this prompt, before the specialist discount.
    fn quality_of(&self, model: &ModelSpec) -> f64;
    /// How hard the prompt is (0 easy .. 1 hard), reported with the decision.
    fn difficulty(&self) -> f64;
}

/// A model as the router sees it.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub slug: String,
    /// The model's ability vector and bias on the predictor's scale (`predictor::Ability`).
    pub ability: Ability,
    pub context_window: u32,
    pub max_output: u32,
    pub tools: bool,
    pub vision: bool,
    pub json: bool,
    /// A specialist (an index into `SIGNALS`, e.g. a coding model): its catalogue quality holds for prompts
    /// where that task signal fires, and its predicted quality is discounted on every other prompt.
    pub specialty: Option<u8>,
}

/// Predicted quality kept by a specialist on a prompt outside its task. Not learned (the routing data has
/// no specialist): enough that a general model at a similar price wins off-task.
pub const SPECIALIST_OFF_TASK: f64 = 0.85;

impl ModelSpec {
    /// P(good) for this model on `prompt`: the predictor's, with the specialist discount off-task.
    #[must_use]
    pub fn predicted_quality(&self, prompt: &impl PromptQuality) -> f64 {
        let q = prompt.quality_of(self);
        match self.specialty {
            Some(task) if prompt.text_features().signal_hits[usize::from(task)] == 0 => q * SPECIALIST_OFF_TASK,
            _ => q,
        }
    }
}
