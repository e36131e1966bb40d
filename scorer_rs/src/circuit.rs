//! A circuit breaker per (model, provider): closed, open for a cooldown, then one half-open probe.

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CircuitState {
    Closed,
    Open,
    HalfOpen,
}

impl CircuitState {
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            CircuitState::Closed => "closed",
            CircuitState::Open => "open",
            CircuitState::HalfOpen => "half_open",
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitConfig {
    pub failure_threshold: u32,
    pub cooldown_ms: f64,
    pub max_cooldown_ms: f64,
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Circuit {
    tripped: bool,
    open_until_ms: f64,
    next_cooldown_ms: f64,
    probe_in_flight: bool,
}

impl Circuit {
    #[must_use]
    pub fn new(config: &CircuitConfig) -> Self {
        Self { tripped: false, open_until_ms: 0.0, next_cooldown_ms: config.cooldown_ms, probe_in_flight: false }
    }

    #[must_use]
    pub fn state(&self, now_ms: f64) -> CircuitState {
        if !self.tripped {
            CircuitState::Closed
        } else if now_ms < self.open_until_ms {
            CircuitState::Open
        } else {
            CircuitState::HalfOpen
        }
    }

    /// Can a new attempt go to this provider now? Half-open admits a single probe.
    #[must_use]
    pub fn available(&self, now_ms: f64) -> bool {
        match self.state(now_ms) {
            CircuitState::Closed => true,
            CircuitState::Open => false,
            CircuitState::HalfOpen => !self.probe_in_flight,
        }
    }

    #[must_use]
    pub fn remaining_ms(&self, now_ms: f64) -> f64 {
        if self.tripped {
            (self.open_until_ms - now_ms).max(0.0)
        } else {
            0.0
        }
    }

    /// An attempt starts; in half-open it takes the probe slot.
    pub fn on_begin(&mut self, now_ms: f64) {
        if self.state(now_ms) == CircuitState::HalfOpen && !self.probe_in_flight {
            self.probe_in_flight = true;
        }
    }

    pub fn on_success(&mut self, config: &CircuitConfig) {
        self.tripped = false;
        self.probe_in_flight = false;
        self.open_until_ms = 0.0;
        self.next_cooldown_ms = config.cooldown_ms;
    }

    /// A failure: trips on the threshold or on a failed probe; `retry_after_ms` lengthens, never shortens.
    pub fn on_failure(&mut self, config: &CircuitConfig, now_ms: f64, consecutive: u32, retry_after_ms: Option<f64>) {
        let probe_failed = self.tripped && self.state(now_ms) == CircuitState::HalfOpen;
        if probe_failed || (!self.tripped && consecutive >= config.failure_threshold) {
            self.trip(config, now_ms);
        }
        if let Some(wait) = retry_after_ms.filter(|w| w.is_finite() && *w > 0.0) {
            let until = now_ms + wait;
            if !self.tripped || until > self.open_until_ms {
                self.open_until_ms = if self.tripped { self.open_until_ms.max(until) } else { until };
            }
            self.tripped = true;
            self.probe_in_flight = false;
        }
    }

    /// The attempt ended with no verdict (client went away): free the probe slot.
    pub fn on_cancel(&mut self) {
        self.probe_in_flight = false;
    }

    fn trip(&mut self, config: &CircuitConfig, now_ms: f64) {
        let until = now_ms + self.next_cooldown_ms;
        self.open_until_ms = if self.tripped { self.open_until_ms.max(until) } else { until };
        self.tripped = true;
        self.probe_in_flight = false;
        self.next_cooldown_ms = (self.next_cooldown_ms * 2.0).min(config.max_cooldown_ms);
    }

    #[must_use]
    pub fn open_until_ms(&self) -> f64 {
        if self.tripped {
            self.open_until_ms
        } else {
            0.0
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CFG: CircuitConfig = CircuitConfig { failure_threshold: 3, cooldown_ms: 1000.0, max_cooldown_ms: 3000.0 };

    #[test]
    fn opens_after_threshold_then_half_open_probe_then_closes() {
        let mut c = Circuit::new(&CFG);
        c.on_failure(&CFG, 0.0, 1, None);
        c.on_failure(&CFG, 0.0, 2, None);
        assert_eq!(c.state(0.0), CircuitState::Closed);
        c.on_failure(&CFG, 10.0, 3, None);
        assert_eq!(c.state(500.0), CircuitState::Open);
        assert!(!c.available(500.0));
        assert_eq!(c.state(1010.0), CircuitState::HalfOpen);
        assert!(c.available(1010.0));
        c.on_begin(1010.0);
        assert!(!c.available(1011.0), "only one probe at a time");
        c.on_success(&CFG);
        assert_eq!(c.state(1012.0), CircuitState::Closed);
    }

    #[test]
    fn failed_probe_reopens_with_longer_cooldown_capped() {
        let mut c = Circuit::new(&CFG);
        c.on_failure(&CFG, 0.0, 3, None); // open until 1000, next 2000
        c.on_begin(1000.0);
        c.on_failure(&CFG, 1000.0, 4, None); // open until 3000, next 3000 (cap)
        assert_eq!(c.state(2999.0), CircuitState::Open);
        assert_eq!(c.state(3000.0), CircuitState::HalfOpen);
        c.on_begin(3000.0);
        c.on_failure(&CFG, 3000.0, 5, None);
        assert_eq!(c.state(5999.0), CircuitState::Open);
        assert_eq!(c.state(6000.0), CircuitState::HalfOpen);
    }

    #[test]
    fn retry_after_lengthens_never_shortens() {
        let mut c = Circuit::new(&CFG);
        c.on_failure(&CFG, 0.0, 1, Some(5000.0));
        assert_eq!(c.state(4999.0), CircuitState::Open);
        c.on_failure(&CFG, 100.0, 2, Some(10.0));
        assert_eq!(c.state(4999.0), CircuitState::Open, "a shorter Retry-After must not shorten");
        assert_eq!(c.state(5000.0), CircuitState::HalfOpen);
    }

    #[test]
    fn cancelled_probe_frees_the_slot() {
        let mut c = Circuit::new(&CFG);
        c.on_failure(&CFG, 0.0, 3, None);
        c.on_begin(1000.0);
        assert!(!c.available(1000.0));
        c.on_cancel();
        assert!(c.available(1000.0));
    }
}
