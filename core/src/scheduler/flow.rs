//! Flow control per endpoint (origin): a bound on requests in flight and a rate in requests per
//! second. Both hold for every process sharing the store together: the deliveries in flight are
//! the executions running in the store, and the rate's token bucket is kept in the store, both read
//! and changed inside the claim's transaction (which claims of other processes wait for). Origins
//! at their limit are left out of claims, so a herd of jobs for one receiver never holds delivery
//! slots that other receivers could use.

use std::collections::{HashMap, HashSet};

use crate::store::{Claimed, FlowState, RateState};

/// Limits for one endpoint.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct EndpointLimits {
    /// Most requests in flight at once.
    pub max_in_flight: usize,
    /// Most requests started per second (a burst of one second's worth is allowed); `None` for no
    /// limit.
    pub per_second: Option<f64>,
}

/// The limits of every endpoint, as configured on this scheduler.
#[derive(Debug)]
pub(crate) struct Flow {
    default: EndpointLimits,
    overrides: HashMap<String, EndpointLimits>,
    /// What part of a blocked endpoint's bound must be free before it is worth a new claim:
    /// `1 / refill_divisor`.
    refill_divisor: usize,
}

/// How much the next claim may take, per endpoint.
#[derive(Debug, Default)]
pub(crate) struct Plan {
    /// Room per known endpoint (origin → executions).
    pub rooms: HashMap<String, usize>,
    /// Room for an endpoint not listed.
    pub default_room: usize,
    /// Endpoints not to claim for: disabled, or with no room.
    pub excluded: HashSet<String>,
    /// Whether any endpoint is held back by its limits (not only disabled).
    pub blocked: bool,
    /// When the earliest rate-limited endpoint may send again (ms).
    pub until: Option<i64>,
    /// How many deliveries must finish before a blocked endpoint is worth a new claim: a part of
    /// the smallest in-flight bound among the blocked ones (at least 1), which the store chooses
    /// (see `Store::refill_divisor`).
    pub refill: usize,
}

impl Flow {
    pub(crate) fn new(
        default: EndpointLimits,
        overrides: HashMap<String, EndpointLimits>,
        refill_divisor: usize,
    ) -> Self {
        Flow {
            default,
            overrides,
            refill_divisor: refill_divisor.max(1),
        }
    }

    pub(crate) fn limits(&self, origin: &str) -> EndpointLimits {
        self.overrides.get(origin).copied().unwrap_or(self.default)
    }

    /// Whether any endpoint has a rate limit (then claims keep token buckets in the store).
    fn rates_in_use(&self) -> bool {
        self.default.per_second.is_some() || self.overrides.values().any(|l| l.per_second.is_some())
    }

    /// The tokens of an endpoint's bucket at `now`: a full bucket (one second's worth, at least
    /// one) unless the store says otherwise. `None` without a rate.
    fn tokens(limits: EndpointLimits, stored: Option<&RateState>, now: i64) -> Option<f64> {
        let rate = limits.per_second?;
        let burst = rate.max(1.0);
        Some(match stored {
            Some(s) => {
                let elapsed = (now - s.refilled_at).max(0) as f64 / 1000.0;
                (s.tokens + elapsed * rate).min(burst)
            }
            None => burst,
        })
    }

    fn room(limits: EndpointLimits, running: usize, tokens: Option<f64>) -> usize {
        let slots = limits.max_in_flight.saturating_sub(running);
        match tokens {
            Some(t) => slots.min(t.max(0.0).floor() as usize),
            None => slots,
        }
    }

    /// How many executions of each endpoint the next claim may take at `now`: what its in-flight
    /// bound leaves, given the deliveries in flight to it from every process, and what its rate's
    /// tokens leave.
    pub(crate) fn plan(&self, state: &FlowState, now: i64) -> Plan {
        let mut plan = Plan {
            default_room: Self::room(self.default, 0, Self::tokens(self.default, None, now)),
            excluded: state.disabled.clone(),
            ..Plan::default()
        };
        let mut refill = usize::MAX;
        let origins: HashSet<&String> = state
            .running
            .keys()
            .chain(state.rates.keys())
            .chain(self.overrides.keys())
            .collect();
        for origin in origins {
            let limits = self.limits(origin);
            let running = state.running.get(origin).copied().unwrap_or(0);
            let tokens = Self::tokens(limits, state.rates.get(origin), now);
            let room = Self::room(limits, running, tokens);
            if room == 0 {
                plan.excluded.insert(origin.clone());
                plan.blocked = true;
                refill = refill.min((limits.max_in_flight / self.refill_divisor).max(1));
                if running < limits.max_in_flight
                    && let (Some(rate), Some(t)) = (limits.per_second, tokens)
                {
                    let at = now + ((1.0 - t) / rate * 1000.0).ceil() as i64;
                    plan.until = Some(plan.until.map_or(at, |u| u.min(at)));
                }
            }
            plan.rooms.insert(origin.clone(), room);
        }
        plan.refill = refill
            .min(self.default.max_in_flight.div_ceil(self.refill_divisor))
            .max(1);
        plan
    }

    /// The token buckets to store after a claim took `claimed` at `now`: each endpoint claimed
    /// for pays one token per execution, and a stored bucket that is full again is forgotten.
    pub(crate) fn spend(
        &self,
        state: &FlowState,
        claimed: &[Claimed],
        now: i64,
    ) -> Vec<(String, Option<RateState>)> {
        if !self.rates_in_use() {
            return Vec::new();
        }
        let mut taken: HashMap<&str, usize> = HashMap::new();
        for c in claimed {
            *taken.entry(c.origin.as_str()).or_default() += 1;
        }
        let mut changes = Vec::new();
        for (origin, n) in &taken {
            let limits = self.limits(origin);
            if let Some(tokens) = Self::tokens(limits, state.rates.get(*origin), now) {
                let state = RateState {
                    tokens: tokens - *n as f64,
                    refilled_at: now,
                };
                changes.push(((*origin).to_owned(), Some(state)));
            }
        }
        for (origin, stored) in &state.rates {
            if taken.contains_key(origin.as_str()) {
                continue;
            }
            let limits = self.limits(origin);
            let full = match (limits.per_second, Self::tokens(limits, Some(stored), now)) {
                (Some(rate), Some(t)) => t >= rate.max(1.0),
                _ => true,
            };
            if full {
                changes.push((origin.clone(), None));
            }
        }
        changes
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
            4,
        )
    }

    fn rooms(of: &[(&str, usize)]) -> HashMap<String, usize> {
        of.iter().map(|(o, n)| ((*o).to_owned(), *n)).collect()
    }

    fn running(of: &[(&str, usize)]) -> FlowState {
        FlowState {
            running: rooms(of),
            ..FlowState::default()
        }
    }

    fn claimed(origin: &str, n: usize) -> Vec<Claimed> {
        let c = crate::store::Claimed {
            execution_id: "exec_1".parse().unwrap(),
            in_job_row: true,
            job_id: "job_1".parse().unwrap(),
            attempt: 1,
            due_at: 0,
            url: format!("{origin}/"),
            method: crate::job::Method::Post,
            headers: Vec::new(),
            body: bytes::Bytes::new(),
            timeout: std::time::Duration::from_secs(1),
            signing: None,
            kind: crate::job::JobKind::Once,
            retry: String::new(),
            budget_start: 0,
            name: None,
            origin: origin.to_owned(),
            on_success_url: None,
            on_failure_url: None,
            internal: crate::store::Internal::User,
            defect: None,
        };
        vec![c; n]
    }

    /// The store's state after `changes` were saved.
    fn apply(state: &mut FlowState, changes: Vec<(String, Option<RateState>)>) {
        for (origin, rate) in changes {
            match rate {
                Some(r) => state.rates.insert(origin, r),
                None => state.rates.remove(&origin),
            };
        }
    }

    #[test]
    fn the_rate_allows_a_burst_then_blocks_until_a_token_is_back() {
        let f = flow(100, Some(10.0));
        let mut state = FlowState::default();
        // A fresh endpoint has a full bucket: one second's worth.
        let p = f.plan(&state, 0);
        assert_eq!(p.default_room, 10);
        let changes = f.spend(&state, &claimed("a", 10), 0);
        apply(&mut state, changes);
        let p = f.plan(&state, 0);
        assert!(p.excluded.contains("a") && p.blocked);
        assert_eq!(p.until, Some(100), "a token is back after 100 ms");
        let p = f.plan(&state, 100);
        assert_eq!(p.rooms, rooms(&[("a", 1)]));
        assert!(p.excluded.is_empty());
        // A bucket that is full again is forgotten.
        let changes = f.spend(&state, &[], 1_000);
        assert_eq!(changes, vec![("a".to_owned(), None)]);
    }

    #[test]
    fn the_in_flight_bound_counts_deliveries_of_every_process() {
        let f = flow(2, None);
        assert_eq!(f.plan(&running(&[("a", 1)]), 0).rooms, rooms(&[("a", 1)]));
        let p = f.plan(&running(&[("a", 2), ("b", 1)]), 0);
        assert_eq!(p.excluded, HashSet::from(["a".to_owned()]));
        assert_eq!(p.default_room, 2);
        assert_eq!(p.rooms["b"], 1);
        assert!(f.plan(&FlowState::default(), 0).rooms.is_empty());
        assert!(
            f.spend(&running(&[]), &claimed("a", 2), 0).is_empty(),
            "no rates, nothing kept"
        );
    }

    #[test]
    fn disabled_endpoints_are_excluded_without_counting_as_blocked() {
        let f = flow(2, None);
        let state = FlowState {
            disabled: HashSet::from(["d".to_owned()]),
            ..FlowState::default()
        };
        let p = f.plan(&state, 0);
        assert!(p.excluded.contains("d"));
        assert!(!p.blocked);
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
            4,
        );
        let mut state = running(&[("fast", 1)]);
        let p = f.plan(&state, 0);
        assert_eq!(p.default_room, 8);
        assert_eq!(p.rooms, rooms(&[("fast", 7), ("slow", 1)]));
        let changes = f.spend(&state, &claimed("slow", 1), 0);
        apply(&mut state, changes);
        state.running.insert("slow".into(), 1);
        let p = f.plan(&state, 0);
        assert_eq!(p.rooms["slow"], 0);
        state.running.remove("slow");
        assert_eq!(f.plan(&state, 500).until, Some(1000));
        assert_eq!(f.plan(&state, 1000).rooms["slow"], 1);
    }
}
