//! Invariants of identity resolution under random event streams.
#![allow(clippy::unwrap_used)] // test support: a failed unwrap is a failed test

use std::collections::{BTreeSet, HashMap};

use proptest::prelude::*;
use waymark_core::{Identifier, IdentifierKind, ProfileId, parse_timestamp};
use waymark_identity::{IdentityConfig, IdentityGraph, KindRule};

/// An event's identifiers, drawn from small pools so that they collide.
fn event() -> impl Strategy<Value = Vec<(u8, u8)>> {
    // (kind, value index); kind 0..5 = user_id, email, phone, device_id, anonymous_id
    prop::collection::vec((0u8..5, 0u8..8), 1..4)
}

fn identifier(kind: u8, value: u8) -> Identifier {
    let kind = match kind {
        0 => IdentifierKind::UserId,
        1 => IdentifierKind::Email,
        2 => IdentifierKind::Phone,
        3 => IdentifierKind::DeviceId,
        _ => IdentifierKind::AnonymousId,
    };
    // Value 7 stands for junk that SDKs send: blocked.
    let value = if value == 7 {
        "undefined".to_owned()
    } else {
        format!("{kind}-{value}")
    };
    Identifier::new(kind, value)
}

/// Resolves one event the way `identifiers_of` prepares it: blocked values
/// dropped, highest priority first.
fn resolve(
    graph: &mut IdentityGraph,
    raw: &[(u8, u8)],
    n: usize,
) -> Option<waymark_identity::Resolution> {
    let config = graph.config().clone();
    let mut ids: Vec<Identifier> = Vec::new();
    for (k, v) in raw {
        let id = identifier(*k, *v);
        if !config.is_blocked(&id.value) && !ids.contains(&id) {
            ids.push(id);
        }
    }
    ids.sort_by_key(|i| config.rule(&i.kind).0);
    let at =
        parse_timestamp("2026-01-01T00:00:00Z").unwrap() + chrono::TimeDelta::seconds(n as i64);
    graph.resolve(&ids, at, &format!("m{n}"))
}

fn check_invariants(graph: &IdentityGraph) {
    let config = graph.config();
    let mut owner: HashMap<&Identifier, &ProfileId> = HashMap::new();
    for (profile, ids) in graph.profiles() {
        let mut per_kind: HashMap<&IdentifierKind, usize> = HashMap::new();
        for id in ids {
            assert!(
                owner.insert(id, profile).is_none(),
                "{id} belongs to two profiles"
            );
            assert!(
                !config.is_blocked(&id.value),
                "blocked value {id} was linked"
            );
            assert_eq!(
                graph.lookup(id).as_ref(),
                Some(profile),
                "index agrees with membership"
            );
            *per_kind.entry(&id.kind).or_default() += 1;
        }
        for (kind, n) in per_kind {
            assert!(
                n <= config.rule(kind).1,
                "{profile} holds {n} {kind}, over the limit"
            );
        }
    }
}

/// The grouping of identifiers into profiles, independent of profile ids.
fn grouping(graph: &IdentityGraph) -> BTreeSet<BTreeSet<Identifier>> {
    graph
        .profiles()
        .map(|(_, ids)| ids.iter().cloned().collect())
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn one_owner_limits_kept_blocked_never_linked_merges_redirect_forever(
        stream in prop::collection::vec(event(), 1..40)
    ) {
        let mut graph = IdentityGraph::new(IdentityConfig::default());
        let mut merged: Vec<(ProfileId, ProfileId)> = Vec::new();
        for (n, raw) in stream.iter().enumerate() {
            if let Some(r) = resolve(&mut graph, raw, n) {
                prop_assert_eq!(graph.canonical(&r.profile), Some(r.profile.clone()));
                merged.extend(r.merges.iter().map(|m| (m.loser.clone(), m.winner.clone())));
            }
            check_invariants(&graph);
            for (loser, winner) in &merged {
                let survivor = graph.canonical(winner);
                prop_assert!(survivor.is_some());
                prop_assert_eq!(graph.canonical(loser), survivor, "a merged profile resolves to its survivor");
            }
        }
    }

    #[test]
    fn without_limit_conflicts_the_grouping_ignores_event_order(
        stream in prop::collection::vec(event(), 1..30),
        seed in any::<u64>(),
    ) {
        // Limits no stream here can reach: every link is a merge.
        let rules = [IdentifierKind::UserId, IdentifierKind::Email, IdentifierKind::Phone, IdentifierKind::DeviceId, IdentifierKind::AnonymousId]
            .into_iter()
            .enumerate()
            .map(|(i, kind)| KindRule { kind, priority: i as u32 + 1, limit: 1000 })
            .collect();
        let config = IdentityConfig { rules, ..IdentityConfig::default() };
        let mut forward = IdentityGraph::new(config.clone());
        for (n, raw) in stream.iter().enumerate() {
            resolve(&mut forward, raw, n);
        }
        let mut shuffled = stream.clone();
        // A deterministic shuffle driven by the seed.
        let mut state = seed | 1;
        for i in (1..shuffled.len()).rev() {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            shuffled.swap(i, (state % (i as u64 + 1)) as usize);
        }
        let mut other = IdentityGraph::new(config);
        for (n, raw) in shuffled.iter().enumerate() {
            resolve(&mut other, raw, n);
        }
        prop_assert_eq!(grouping(&forward), grouping(&other));
    }
}
