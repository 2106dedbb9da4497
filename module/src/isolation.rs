//! The isolation state machine, as pure functions over the isolation table.
//!
//! ```text
//!   Active ──Tier 2/3──▶ Deferred ──room under the cap──▶ Quarantined ──until──▶ Probation
//!     ▲                     ▲  └──────────────◀── displaced by more severe ──────┘     │
//!     └──────────────── reputation ≥ threshold (Rehabilitated) ◀──────────────────────┘
//!   any ──Tier 1──▶ Banned (permanent)
//! ```
//!
//! The cap: a quarantine is admitted only while quarantined and banned power, and the
//! influence withheld from operators on probation, together stay within the total power minus
//! a quorum, so quarantines never take the effective power below a quorum. Bans are proven and
//! always apply, counted first, even past the cap: enough proven offenders can leave less than
//! a quorum of the set's power active (the next epoch's set, without them, has its own
//! quorum), and then every quarantine waits. Probation also counts first (it follows a
//! quarantine that freed more); quarantines are admitted by severity (long before short), then
//! those already in force, then the oldest; the rest wait as `Deferred`.

use alloc::vec::Vec;

use crate::codec::VecMap;
use crate::config::{IsolationConfig, PPM};
use crate::msg::{Event, QuarantineLevel};
use crate::state::IsolationState;
use crate::validators::quorum;
use crate::wire::OperatorId;

/// Operators that are not active, with their state. Active operators are absent.
pub type IsolationTable = VecMap<OperatorId, IsolationState>;

/// The power the cap weighs: the set's total and the power of each operator in the table
/// (absent operators have none).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Powers {
    /// The set's total power.
    pub total: u64,
    /// Power of the table's operators.
    pub of: VecMap<OperatorId, u64>,
}

impl Powers {
    /// Power of `operator`.
    pub fn power_of(&self, operator: OperatorId) -> u64 {
        self.of.get(&operator).copied().unwrap_or(0)
    }
}

/// Whether [`refresh`] or [`rebalance`] can change anything in `table`: only quarantines
/// (in force or waiting) and probation move. A table of bans alone stays as it is, so its
/// transactions read no member's power.
pub fn needs_power(table: &IsolationTable) -> bool {
    table
        .values()
        .any(|s| !matches!(s, IsolationState::Banned { .. }))
}

/// The state of `operator` in `table`.
pub fn state_of(table: &IsolationTable, operator: OperatorId) -> IsolationState {
    table
        .get(&operator)
        .copied()
        .unwrap_or(IsolationState::Active)
}

/// Power after isolation: zero when quarantined or banned, reduced on probation.
pub fn effective_power(state: IsolationState, power: u64, probation_influence_ppm: u32) -> u64 {
    match state {
        IsolationState::Active | IsolationState::Deferred { .. } => power,
        IsolationState::Probation { .. } => {
            (u128::from(power) * u128::from(probation_influence_ppm) / u128::from(PPM)) as u64
        }
        IsolationState::Quarantined { .. } | IsolationState::Banned { .. } => 0,
    }
}

/// Whether the state takes the operator's power out of the active set.
pub fn is_isolated(state: IsolationState) -> bool {
    matches!(
        state,
        IsolationState::Quarantined { .. } | IsolationState::Banned { .. }
    )
}

/// The graduated response to an operator's `offences`-th Tier 2 or 3 offence: `None` for a
/// warning, otherwise the quarantine's level and length in blocks.
pub fn graduated_response(
    offences: u32,
    config: &IsolationConfig,
) -> Option<(QuarantineLevel, u64)> {
    if offences <= config.warnings_before_quarantine {
        None
    } else if offences > config.long_quarantine_after {
        Some((QuarantineLevel::Long, config.long_quarantine_blocks))
    } else {
        Some((QuarantineLevel::Short, config.short_quarantine_blocks))
    }
}

/// Imposes a quarantine: a new one waits as `Deferred` until [`rebalance`] admits it; one in
/// force or waiting is extended to the longer length and the higher level. Banned operators
/// are left as they are.
pub fn impose_quarantine(
    table: &mut IsolationTable,
    operator: OperatorId,
    level: QuarantineLevel,
    blocks: u64,
    height: u64,
) {
    let next = match state_of(table, operator) {
        IsolationState::Banned { .. } => return,
        IsolationState::Quarantined {
            since,
            until,
            level: old,
        } => IsolationState::Quarantined {
            since,
            until: until.max(height.saturating_add(blocks)),
            level: old.max(level),
        },
        IsolationState::Deferred {
            blocks: old_blocks,
            level: old,
            since,
        } => IsolationState::Deferred {
            blocks: old_blocks.max(blocks),
            level: old.max(level),
            since,
        },
        IsolationState::Active | IsolationState::Probation { .. } => IsolationState::Deferred {
            blocks,
            level,
            since: height,
        },
    };
    table.insert(operator, next);
}

/// What time alone makes of `state` by `height`: a quarantine whose `until` has come is
/// probation since then.
pub fn aged(state: IsolationState, height: u64) -> IsolationState {
    match state {
        IsolationState::Quarantined { until, .. } if until <= height => {
            IsolationState::Probation { since: until }
        }
        other => other,
    }
}

/// Brings the table up to `height`: ends quarantines that are over (probation follows),
/// rehabilitates operators on probation whose reputation reached `threshold`, and admits or
/// defers quarantines under the cap for `set`. Returns the events, in operator order per step.
pub fn refresh(
    table: &mut IsolationTable,
    set: &Powers,
    height: u64,
    reputation: impl Fn(OperatorId) -> u32,
    threshold: u32,
    probation_influence_ppm: u32,
) -> Vec<Event> {
    let mut events = Vec::new();
    for (&operator, state) in table.iter_mut() {
        let next = aged(*state, height);
        if next != *state {
            *state = next;
            events.push(Event::ProbationStarted { operator });
        }
    }
    let rehabilitated: Vec<OperatorId> = table
        .iter()
        .filter(|(op, s)| {
            matches!(s, IsolationState::Probation { .. }) && reputation(**op) >= threshold
        })
        .map(|(op, _)| *op)
        .collect();
    for operator in rehabilitated {
        table.remove(&operator);
        events.push(Event::Rehabilitated { operator });
    }
    events.extend(rebalance(table, set, height, probation_influence_ppm));
    events
}

/// Applies the cap: bans and the influence withheld by probation count first (they are in
/// force and cannot wait), then quarantines in order of severity, those already in force, age
/// and operator; whatever does not fit waits as `Deferred`.
pub fn rebalance(
    table: &mut IsolationTable,
    set: &Powers,
    height: u64,
    probation_influence_ppm: u32,
) -> Vec<Event> {
    if !needs_power(table) {
        return Vec::new();
    }
    let budget = set.total.saturating_sub(quorum(set.total));
    let mut used: u64 = table
        .iter()
        .map(|(op, s)| match s {
            IsolationState::Banned { .. } => set.power_of(*op),
            IsolationState::Probation { .. } => {
                let power = set.power_of(*op);
                power.saturating_sub(effective_power(*s, power, probation_influence_ppm))
            }
            _ => 0,
        })
        .fold(0, u64::saturating_add);
    // (level descending, in force first, since ascending, operator ascending)
    let mut candidates: Vec<(core::cmp::Reverse<QuarantineLevel>, bool, u64, OperatorId)> = table
        .iter()
        .filter_map(|(&op, s)| match *s {
            IsolationState::Quarantined { level, since, .. } => {
                Some((core::cmp::Reverse(level), false, since, op))
            }
            IsolationState::Deferred { level, since, .. } => {
                Some((core::cmp::Reverse(level), true, since, op))
            }
            _ => None,
        })
        .collect();
    candidates.sort_unstable();
    let mut events = Vec::new();
    for (_, _, _, operator) in candidates {
        let power = set.power_of(operator);
        let fits = used.saturating_add(power) <= budget;
        let state = state_of(table, operator);
        match (state, fits) {
            (IsolationState::Deferred { blocks, level, .. }, true) => {
                let until = height.saturating_add(blocks);
                table.insert(
                    operator,
                    IsolationState::Quarantined {
                        since: height,
                        until,
                        level,
                    },
                );
                events.push(Event::Quarantined {
                    operator,
                    until,
                    level,
                });
            }
            (
                IsolationState::Quarantined {
                    since,
                    until,
                    level,
                },
                false,
            ) => {
                table.insert(
                    operator,
                    IsolationState::Deferred {
                        blocks: until.saturating_sub(height).max(1),
                        level,
                        since,
                    },
                );
                events.push(Event::QuarantineDeferred { operator });
            }
            _ => {}
        }
        if fits {
            used = used.saturating_add(power);
        }
    }
    events
}
