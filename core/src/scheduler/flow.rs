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

/// How much the next claim may take, per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Room per known endpoint (origin → executions).
    pub rooms: HashMap<String, usize>,
    /// Room for an endpoint not listed.
    pub default_room: usize,
    /// Endpoints with no room, left out of claims and wake-ups.
    pub blocked: Vec<String>,
    /// When the earliest rate-limited endpoint may send again (ms).
    pub until: Option<i64>,
    /// How many deliveries must finish before a blocked endpoint is worth a new claim: a quarter
    /// of the smallest in-flight bound among the blocked ones (at least 1).
    pub refill: usize,
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

    fn room(limits: EndpointLimits, s: Option<&OriginState>) -> usize {
        let in_flight = s.map_or(0, |s| s.in_flight);
        let slots = limits.max_in_flight.saturating_sub(in_flight);
        match limits.per_second {
            Some(rate) => {
                let tokens = s.map_or(rate.max(1.0), |s| s.tokens);
                slots.min(tokens.max(0.0).floor() as usize)
            }
            None => slots,
        }
    }

    /// How many executions of each endpoint the next claim may take at `now`: what its in-flight
    /// bound and its rate tokens leave.
    pub(crate) fn plan(&self, now: i64) -> Plan {
        let mut state = self
            .state
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut rooms = HashMap::new();
        let mut blocked = Vec::new();
        let mut until: Option<i64> = None;
        let mut refill = usize::MAX;
        state.retain(|origin, s| {
            let limits = self.overrides.get(origin).copied().unwrap_or(self.default);
            Self::refill(limits, s, now);
            let rested = limits.per_second.is_none_or(|r| s.tokens >= r.max(1.0));
            if s.in_flight == 0 && rested {
                return false; // idle and rested: forget it
            }
            let room = Self::room(limits, Some(s));
            if room == 0 {
                blocked.push(origin.clone());
                refill = refill.min((limits.max_in_flight / 4).max(1));
                if s.in_flight < limits.max_in_flight
                    && let Some(rate) = limits.per_second
                {
                    let at = now + ((1.0 - s.tokens) / rate * 1000.0).ceil() as i64;
                    until = Some(until.map_or(at, |u| u.min(at)));
                }
            }
            rooms.insert(origin.clone(), room);
            true
        });
        for (origin, limits) in &self.overrides {
            if !rooms.contains_key(origin) {
                rooms.insert(origin.clone(), Self::room(*limits, None));
            }
        }
        Plan {
            rooms,
            default_room: Self::room(self.default, None),
            blocked,
            until,
            refill: refill.min(self.default.max_in_flight.div_ceil(4)).max(1),
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

    fn rooms(of: &[(&str, usize)]) -> HashMap<String, usize> {
        of.iter().map(|(o, n)| ((*o).to_owned(), *n)).collect()
    }

    #[test]
    fn the_rate_spaces_sends_and_blocks_until_a_token_is_back() {
        let f = flow(100, Some(10.0));
        let sends: Vec<i64> = (0..12).map(|_| f.admit("a", 0).1).collect();
        // A one-second burst of 10, then one every 100 ms.
        assert_eq!(&sends[..10], &[0; 10]);
        assert_eq!(&sends[10..], &[100, 200]);
        let p = f.plan(0);
        assert_eq!((p.blocked.len(), p.until), (1, Some(300)));
        assert_eq!(p.rooms, rooms(&[("a", 0)]));
        let p = f.plan(300);
        assert_eq!(
            (p.blocked.len(), p.rooms),
            (0, rooms(&[("a", 1)])),
            "a token is back at 300 ms"
        );
    }

    #[test]
    fn the_in_flight_bound_blocks_an_origin_and_release_unblocks_it() {
        let f = flow(2, None);
        f.admit("a", 0);
        assert_eq!(f.plan(0).rooms, rooms(&[("a", 1)]));
        f.admit("a", 0);
        f.admit("b", 0);
        let p = f.plan(0);
        assert_eq!(p.blocked, ["a"]);
        assert_eq!(p.default_room, 2);
        f.release("a");
        assert!(f.plan(0).blocked.is_empty());
        f.release("a");
        f.release("b");
        assert!(f.plan(0).rooms.is_empty());
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
        let p = f.plan(0);
        assert_eq!(p.default_room, 8);
        assert_eq!(p.rooms, rooms(&[("fast", 7), ("slow", 0)]));
    }
}
