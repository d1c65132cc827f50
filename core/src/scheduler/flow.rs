//! Flow control per endpoint (origin): a bound on requests in flight and a rate in requests per
//! second, kept in memory by the worker. Origins at their limit are left out of claims, so a herd of
//! jobs for one receiver never holds delivery slots that other receivers could use.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use tokio::sync::Semaphore;

/// Limits for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EndpointLimits {
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// Most requests started per second (a burst of one second's worth is allowed); `None` for no
    /// limit.
    pub per_second: Option<f64>,
}

#[derive(Debug)]
struct OriginState {
    in_flight: usize,
    tokens: f64,
    refilled_at: i64,
    slots: Arc<Semaphore>,
}

/// The worker's view of every endpoint it is sending to.
#[derive(Debug)]
pub(crate) struct Flow {
    default: EndpointLimits,
    overrides: HashMap<String, EndpointLimits>,
    state: Mutex<HashMap<String, OriginState>>,
}

/// What the loop must leave alone for now.
#[derive(Debug, Default)]
pub(crate) struct Blocked {
    /// Origins not to claim: JSON array for the claim statement.
    pub origins: String,
    /// How many origins that is.
    pub count: usize,
    /// When the earliest rate-limited origin may send again (ms).
    pub until: Option<i64>,
}

impl Flow {
    pub(crate) fn new(default: EndpointLimits, overrides: HashMap<String, EndpointLimits>) -> Self {
        Flow {
            default,
            overrides,
            state: Mutex::new(HashMap::new()),
        }
    }

    pub(crate) fn limits(&self, origin: &str) -> EndpointLimits {
        self.overrides.get(origin).copied().unwrap_or(self.default)
    }

    /// The largest number of executions of one origin a claim may take.
    pub(crate) fn per_origin(&self) -> usize {
        self.overrides
            .values()
            .map(|l| l.max_in_flight)
            .chain([self.default.max_in_flight])
            .max()
            .unwrap_or(1)
    }

    fn refill(limits: EndpointLimits, s: &mut OriginState, now: i64) {
        if let Some(rate) = limits.per_second {
            let elapsed = (now - s.refilled_at).max(0) as f64 / 1000.0;
            s.tokens = (s.tokens + elapsed * rate).min(rate.max(1.0));
        }
        s.refilled_at = now;
    }

    /// Counts a claimed delivery to `origin` and reserves its turn: returns its in-flight slot and
    /// the instant (ms) before which it must not be sent.
    pub(crate) fn admit(&self, origin: &str, now: i64) -> (Arc<Semaphore>, i64) {
        let limits = self.limits(origin);
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let s = state
            .entry(origin.to_owned())
            .or_insert_with(|| OriginState {
                in_flight: 0,
                tokens: limits.per_second.map_or(0.0, |r| r.max(1.0)),
                refilled_at: now,
                slots: Arc::new(Semaphore::new(limits.max_in_flight)),
            });
        Self::refill(limits, s, now);
        s.in_flight += 1;
        let send_at = match limits.per_second {
            Some(rate) => {
                s.tokens -= 1.0;
                if s.tokens >= 0.0 {
                    now
                } else {
                    now + (-s.tokens / rate * 1000.0).ceil() as i64
                }
            }
            None => now,
        };
        (s.slots.clone(), send_at)
    }

    /// A delivery to `origin` has finished.
    pub(crate) fn release(&self, origin: &str) {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(s) = state.get_mut(origin) {
            s.in_flight = s.in_flight.saturating_sub(1);
        }
    }

    /// Origins at their in-flight bound or out of rate tokens, at `now`.
    pub(crate) fn blocked(&self, now: i64) -> Blocked {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut origins = Vec::new();
        let mut until: Option<i64> = None;
        state.retain(|origin, s| {
            let limits = self.overrides.get(origin).copied().unwrap_or(self.default);
            Self::refill(limits, s, now);
            let full = limits.per_second.is_none_or(|r| s.tokens >= r.max(1.0));
            if s.in_flight == 0 && full {
                return false; // idle and rested: forget it
            }
            if s.in_flight >= limits.max_in_flight {
                origins.push(origin.clone());
            } else if let Some(rate) = limits.per_second
                && s.tokens < 1.0
            {
                origins.push(origin.clone());
                let at = now + ((1.0 - s.tokens) / rate * 1000.0).ceil() as i64;
                until = Some(until.map_or(at, |u| u.min(at)));
            }
            true
        });
        Blocked {
            count: origins.len(),
            origins: serde_json::to_string(&origins).expect("strings serialise"),
            until,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flow(max: usize, rate: Option<f64>) -> Flow {
        Flow::new(
            EndpointLimits {
                max_in_flight: max,
                per_second: rate,
            },
            HashMap::new(),
        )
    }

    #[test]
    fn the_rate_spaces_sends_and_blocks_until_a_token_is_back() {
        let f = flow(100, Some(10.0));
        let sends: Vec<i64> = (0..12).map(|_| f.admit("a", 0).1).collect();
        // A one-second burst of 10, then one every 100 ms.
        assert_eq!(&sends[..10], &[0; 10]);
        assert_eq!(&sends[10..], &[100, 200]);
        let b = f.blocked(0);
        assert_eq!((b.count, b.until), (1, Some(300)));
        assert_eq!(f.blocked(300).count, 0, "a token is back at 300 ms");
    }

    #[test]
    fn the_in_flight_bound_blocks_an_origin_and_release_unblocks_it() {
        let f = flow(2, None);
        f.admit("a", 0);
        assert_eq!(f.blocked(0).count, 0);
        f.admit("a", 0);
        f.admit("b", 0);
        let b = f.blocked(0);
        assert_eq!(b.origins, r#"["a"]"#);
        f.release("a");
        assert_eq!(f.blocked(0).count, 0);
        f.release("a");
        f.release("b");
        assert_eq!(f.blocked(0).count, 0);
        assert!(
            f.state.lock().unwrap().is_empty(),
            "idle origins are forgotten"
        );
    }

    #[test]
    fn overrides_apply_per_origin() {
        let mut o = HashMap::new();
        o.insert(
            "slow".to_owned(),
            EndpointLimits {
                max_in_flight: 1,
                per_second: Some(1.0),
            },
        );
        let f = Flow::new(
            EndpointLimits {
                max_in_flight: 8,
                per_second: None,
            },
            o,
        );
        assert_eq!(f.admit("slow", 0).1, 0);
        assert_eq!(f.admit("slow", 0).1, 1000);
        assert_eq!(f.admit("fast", 0).1, 0);
        assert_eq!(f.per_origin(), 8);
    }
}
