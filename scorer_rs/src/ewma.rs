//! Exponentially weighted moving averages with a sample count.

/// An EWMA that starts at its first sample (no warm-up bias toward zero).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Ewma {
    alpha: f64,
    value: f64,
    samples: u64,
}

impl Ewma {
    #[must_use]
    pub fn new(alpha: f64) -> Self {
        Self { alpha, value: 0.0, samples: 0 }
    }

    pub fn update(&mut self, sample: f64) {
        if !sample.is_finite() {
            return;
        }
        self.value = if self.samples == 0 { sample } else { self.alpha * sample + (1.0 - self.alpha) * self.value };
        self.samples += 1;
    }

    #[must_use]
    pub fn value(&self) -> Option<f64> {
        (self.samples > 0).then_some(self.value)
    }

    #[must_use]
    pub fn samples(&self) -> u64 {
        self.samples
    }
}

#[cfg(test)]
mod tests {
    use super::Ewma;

    #[test]
    fn starts_at_first_sample_then_smooths() {
        let mut e = Ewma::new(0.5);
        assert_eq!(e.value(), None);
        e.update(100.0);
        assert_eq!(e.value(), Some(100.0));
        e.update(0.0);
        assert_eq!(e.value(), Some(50.0));
        assert_eq!(e.samples(), 2);
    }

    #[test]
    fn ignores_non_finite() {
        let mut e = Ewma::new(0.3);
        e.update(f64::NAN);
        e.update(f64::INFINITY);
        assert_eq!(e.samples(), 0);
    }
}
