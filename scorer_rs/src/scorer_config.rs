//! The scorer's parameters: their defaults, written once here, and their checks.

use crate::circuit::CircuitConfig;

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ScorerConfig {
    pub ewma_alpha: f64,
    pub error_alpha: f64,
    pub circuit: CircuitConfig,
}

/// The scorer's defaults, written once: `Default`, the Python constructor's defaults and the gateway's
/// config defaults (through `proxy._scorer.scorer_defaults()`) all read these.
pub const DEFAULT_SCORER_CONFIG: ScorerConfig = ScorerConfig {
    ewma_alpha: 0.3,
    error_alpha: 0.1,
    circuit: CircuitConfig { failure_threshold: 3, cooldown_ms: 5000.0, max_cooldown_ms: 120_000.0 },
};

impl Default for ScorerConfig {
    fn default() -> Self {
        DEFAULT_SCORER_CONFIG
    }
}

fn in_unit_interval(x: f64) -> bool {
    x > 0.0 && x <= 1.0
}

impl ScorerConfig {
    /// Checks the parameters before a table is built on them.
    ///
    /// # Errors
    /// An alpha outside (0, 1], a zero failure threshold, or cooldowns not `0 < cooldown_ms <= max_cooldown_ms`.
    pub fn validated(self) -> Result<Self, ConfigError> {
        let (ewma_alpha, error_alpha) = (self.ewma_alpha, self.error_alpha);
        if !in_unit_interval(ewma_alpha) || !in_unit_interval(error_alpha) {
            return Err(ConfigError::Alpha { ewma_alpha, error_alpha });
        }
        let CircuitConfig { failure_threshold, cooldown_ms, max_cooldown_ms } = self.circuit;
        if failure_threshold == 0 || cooldown_ms.is_nan() || cooldown_ms <= 0.0 || max_cooldown_ms.is_nan() || max_cooldown_ms < cooldown_ms {
            return Err(ConfigError::Circuit { failure_threshold, cooldown_ms, max_cooldown_ms });
        }
        Ok(self)
    }
}

/// Scorer parameters that cannot work; the message names them and the valid range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ConfigError {
    Alpha { ewma_alpha: f64, error_alpha: f64 },
    Circuit { failure_threshold: u32, cooldown_ms: f64, max_cooldown_ms: f64 },
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            ConfigError::Alpha { ewma_alpha, error_alpha } => {
                write!(f, "Scorer: ewma_alpha={ewma_alpha} and error_alpha={error_alpha} must both be in (0, 1]")
            }
            ConfigError::Circuit { failure_threshold, cooldown_ms, max_cooldown_ms } => write!(
                f,
                "Scorer: need failure_threshold >= 1 (got {failure_threshold}) and \
                 0 < cooldown_ms <= max_cooldown_ms (got {cooldown_ms}, {max_cooldown_ms})"
            ),
        }
    }
}

impl std::error::Error for ConfigError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_checks_name_the_bad_parameter() {
        assert_eq!(ScorerConfig::default().validated(), Ok(DEFAULT_SCORER_CONFIG));
        let alpha = ScorerConfig { ewma_alpha: 0.0, ..ScorerConfig::default() }.validated().unwrap_err();
        assert!(alpha.to_string().contains("ewma_alpha=0"), "{alpha}");
        assert!(ScorerConfig { error_alpha: 1.5, ..ScorerConfig::default() }.validated().is_err());
        assert!(ScorerConfig { ewma_alpha: 1.0, error_alpha: 1.0, ..ScorerConfig::default() }.validated().is_ok());
        let circuit = |failure_threshold, cooldown_ms, max_cooldown_ms| ScorerConfig {
            circuit: CircuitConfig { failure_threshold, cooldown_ms, max_cooldown_ms },
            ..ScorerConfig::default()
        };
        assert!(circuit(0, 1.0, 1.0).validated().is_err());
        assert!(circuit(1, 10.0, 5.0).validated().unwrap_err().to_string().contains("cooldown_ms"));
        assert!(circuit(1, f64::NAN, 5.0).validated().is_err());
        assert!(circuit(1, 1.0, f64::NAN).validated().is_err());
        assert!(circuit(1, 5.0, 5.0).validated().is_ok());
    }
}
