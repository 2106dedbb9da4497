//! The next epoch's validator set as the chain's isolation decides it: banned operators
//! leave for good, quarantined and probation operators keep only their effective power. The
//! simulator's closed loop and `warden testnet`'s governance both rotate with it.

use std::collections::BTreeMap;

use warden_module::codec::{BoundedBytes, BoundedVec};
use warden_module::isolation;
use warden_module::msg::{Query, QueryResponse};
use warden_module::state::IsolationState;
use warden_module::validators::ValidatorInfo;
use warden_module::wire::{OperatorId, PublicKey};

use crate::sim::hosts::report::state_name;

/// What [`next_validators`] decided.
#[derive(Clone, Debug, Default)]
pub struct NextSet {
    /// The members of the next set, with their effective power.
    pub validators: Vec<ValidatorInfo>,
    /// Operators left out, with their isolation state (`"banned"`, `"quarantined"`, ...).
    pub excluded: Vec<(OperatorId, String)>,
    /// Operators banned: drop them from `nominal` for good.
    pub banned: Vec<OperatorId>,
}

/// The next set from `nominal` (each operator's nominal power and key) and the chain's answers
/// to `query`: banned operators are excluded; with `escalation`, the others keep their
/// effective power under their isolation state (those at zero are excluded).
pub fn next_validators(
    nominal: &BTreeMap<OperatorId, (u64, PublicKey)>,
    escalation: bool,
    query: &mut dyn FnMut(&Query) -> anyhow::Result<QueryResponse>,
) -> anyhow::Result<NextSet> {
    let influence = match query(&Query::Config)? {
        QueryResponse::Config(c) => c.isolation.probation_influence_ppm,
        other => anyhow::bail!("unexpected answer to a config query: {other:?}"),
    };
    let mut next = NextSet::default();
    for (&operator, &(power, key)) in nominal {
        let state = match query(&Query::Isolation { operator })? {
            QueryResponse::Isolation(s) => s,
            other => anyhow::bail!("unexpected answer to an isolation query: {other:?}"),
        };
        if let IsolationState::Banned { .. } = state {
            next.banned.push(operator);
            next.excluded.push((operator, "banned".to_string()));
            continue;
        }
        let effective = if escalation {
            isolation::effective_power(state, power, influence)
        } else {
            power
        };
        if effective == 0 {
            next.excluded.push((operator, state_name(&state)));
            continue;
        }
        next.validators.push(ValidatorInfo {
            operator,
            name: BoundedBytes::new(format!("v{operator}").into_bytes()).unwrap_or_default(),
            key,
            power: effective,
        });
    }
    Ok(next)
}

/// `validators` as a bounded list for a rotation.
pub fn bounded(
    validators: Vec<ValidatorInfo>,
) -> anyhow::Result<BoundedVec<ValidatorInfo, { warden_module::wire::MAX_VALIDATORS }>> {
    BoundedVec::new(validators).ok_or_else(|| anyhow::anyhow!("too many validators"))
}
