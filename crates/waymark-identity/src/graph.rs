//! The identity graph: which profile each identifier belongs to, merges
//! under limits, redirects from merged profiles to their survivors, and the
//! merge log.

use std::collections::{HashMap, HashSet};

use serde::{Deserialize, Serialize};
use waymark_core::{Identifier, IdentifierKind, ProfileId, Timestamp, stable_hash};

use crate::config::IdentityConfig;

mod loading;

/// One merge: who absorbed whom, through which identifier, on which event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MergeRecord {
    pub winner: ProfileId,
    pub loser: ProfileId,
    /// The identifier of the event that pointed at the loser.
    pub linked_by: Identifier,
    pub message_id: String,
    pub at: Timestamp,
}

/// What resolving one event's identifiers did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolution {
    /// The canonical profile the event belongs to.
    pub profile: ProfileId,
    /// Whether the profile was created by this event.
    pub created: bool,
    /// Profiles merged into `profile`, oldest first.
    pub merges: Vec<MergeRecord>,
    /// Identifiers left out because linking them would break a limit.
    pub left_out: Vec<Identifier>,
}

/// A live profile's place in the graph.
#[derive(Debug, Clone)]
struct Members {
    /// Creation order: the older profile survives a merge.
    created: u64,
    identifiers: Vec<Identifier>,
    /// How many identifiers of each kind it holds, kept with `identifiers`.
    counts: KindCounts,
}

/// Identifier counts per kind: a handful of kinds, so a small vector.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
struct KindCounts(Vec<(IdentifierKind, usize)>);

impl KindCounts {
    fn get(&self, kind: &IdentifierKind) -> usize {
        self.0
            .iter()
            .find(|(k, _)| k == kind)
            .map_or(0, |(_, n)| *n)
    }

    fn add(&mut self, kind: &IdentifierKind, n: usize) {
        match self.0.iter_mut().find(|(k, _)| k == kind) {
            Some((_, have)) => *have += n,
            None => self.0.push((kind.clone(), n)),
        }
    }

    fn add_all(&mut self, other: &KindCounts) {
        for (kind, n) in &other.0 {
            self.add(kind, *n);
        }
    }
}

type FastMap<K, V> = HashMap<K, V, foldhash::fast::RandomState>;

/// Identifiers to profiles, with merges and redirects.
#[derive(Debug, Clone, Default)]
pub struct IdentityGraph {
    config: IdentityConfig,
    /// Every linked identifier -> its live profile (kept current on merges).
    index: FastMap<Identifier, ProfileId>,
    members: FastMap<ProfileId, Members>,
    /// Merged-away profile -> the profile that absorbed it.
    redirects: FastMap<ProfileId, ProfileId>,
    /// Identifiers of forgotten people: never linked again.
    forgotten: HashSet<Identifier>,
    merge_log: Vec<MergeRecord>,
    created: u64,
}

impl IdentityGraph {
    pub fn new(config: IdentityConfig) -> Self {
        IdentityGraph {
            config,
            ..IdentityGraph::default()
        }
    }

    pub fn config(&self) -> &IdentityConfig {
        &self.config
    }

    /// Rebuilds a graph from what was stored: live profiles (id, creation
    /// order, identifiers), redirects, forgotten identifiers, the merge log.
    pub fn restore(
        config: IdentityConfig,
        profiles: impl IntoIterator<Item = (ProfileId, u64, Vec<Identifier>)>,
        redirects: impl IntoIterator<Item = (ProfileId, ProfileId)>,
        forgotten: impl IntoIterator<Item = Identifier>,
        merge_log: Vec<MergeRecord>,
    ) -> Self {
        let mut graph = IdentityGraph::new(config);
        for (id, created, identifiers) in profiles {
            graph.load(id, created, identifiers);
        }
        graph.redirects.extend(redirects);
        graph.forgotten.extend(forgotten);
        graph.merge_log = merge_log;
        graph
    }

    /// The creation order of a live profile (older profiles have smaller numbers).
    pub fn created_order(&self, profile: &ProfileId) -> Option<u64> {
        self.members.get(profile).map(|m| m.created)
    }

    /// The forgotten identifiers.
    pub fn forgotten(&self) -> impl Iterator<Item = &Identifier> {
        self.forgotten.iter()
    }

    /// Every redirect from a merged-away profile.
    pub fn redirects(&self) -> impl Iterator<Item = (&ProfileId, &ProfileId)> {
        self.redirects.iter()
    }

    /// The live profile `id` stands for: itself, or the survivor it was merged into.
    pub fn canonical(&self, id: &ProfileId) -> Option<ProfileId> {
        let mut current = id;
        for _ in 0..=self.redirects.len() {
            if self.members.contains_key(current) {
                return Some(current.clone());
            }
            current = self.redirects.get(current)?;
        }
        None
    }

    /// The profile an identifier belongs to.
    pub fn lookup(&self, identifier: &Identifier) -> Option<ProfileId> {
        self.index.get(identifier).cloned()
    }

    /// The identifiers of a live profile.
    pub fn identifiers(&self, profile: &ProfileId) -> &[Identifier] {
        self.members
            .get(profile)
            .map_or(&[], |m| m.identifiers.as_slice())
    }

    /// Every live profile with its identifiers.
    pub fn profiles(&self) -> impl Iterator<Item = (&ProfileId, &[Identifier])> {
        self.members
            .iter()
            .map(|(id, m)| (id, m.identifiers.as_slice()))
    }

    pub fn merge_log(&self) -> &[MergeRecord] {
        &self.merge_log
    }

    pub fn is_forgotten(&self, identifier: &Identifier) -> bool {
        self.forgotten.contains(identifier)
    }

    pub fn profile_count(&self) -> usize {
        self.members.len()
    }

    /// Resolves identifiers (highest priority first) to one profile,
    /// creating or merging as needed. Profiles are merged unless that would
    /// break a limit; then the identifiers causing the conflict are left out
    /// and the event resolves by its higher-priority identifiers. `None`
    /// when no usable identifier is left (all blocked or forgotten).
    pub fn resolve(
        &mut self,
        identifiers: &[Identifier],
        at: Timestamp,
        message_id: &str,
    ) -> Option<Resolution> {
        let forgotten = !self.forgotten.is_empty();
        let is_usable = |id: &&Identifier| !forgotten || !self.forgotten.contains(*id);

        // The common case, without allocating: every identifier is known and
        // they all belong to one profile.
        let mut shared: Option<&ProfileId> = None;
        let mut agree = true;
        for id in identifiers.iter().filter(is_usable) {
            match (self.index.get(id), shared) {
                (Some(owner), None) => shared = Some(owner),
                (Some(owner), Some(seen)) if owner == seen => {}
                _ => {
                    agree = false;
                    break;
                }
            }
        }
        if agree && let Some(profile) = shared {
            return Some(Resolution {
                profile: profile.clone(),
                created: false,
                merges: Vec::new(),
                left_out: Vec::new(),
            });
        }

        let usable: Vec<&Identifier> = identifiers.iter().filter(is_usable).collect();
        let owners: Vec<Option<&ProfileId>> = usable.iter().map(|id| self.index.get(*id)).collect();
        let mut counts = KindCounts::default();
        let mut accepted: Vec<(ProfileId, &Identifier)> = Vec::new();
        let mut new_ids: Vec<&Identifier> = Vec::new();
        let mut left_out = Vec::new();
        for (id, owner) in usable.iter().zip(&owners) {
            match owner {
                Some(p) if accepted.iter().any(|(a, _)| a == *p) => {}
                Some(p) => {
                    let theirs = &self.members[*p].counts;
                    if self.fits(&counts, theirs) {
                        counts.add_all(theirs);
                        accepted.push(((*p).clone(), id));
                    } else {
                        left_out.push((*id).clone());
                    }
                }
                None if counts.get(&id.kind) < self.config.rule(&id.kind).1 => {
                    counts.add(&id.kind, 1);
                    new_ids.push(id);
                }
                None => left_out.push((*id).clone()),
            }
        }

        let created = accepted.is_empty();
        let winner = if created {
            // No known profile took part: a new one, seeded by the
            // highest-priority identifier that may be used.
            let seed = *new_ids.first()?;
            self.create(seed)
        } else {
            accepted.sort_by_key(|(p, _)| self.members[p].created);
            accepted[0].0.clone()
        };
        let mut merges = Vec::new();
        for (loser, linked_by) in accepted.into_iter().skip(1) {
            let Some(moved) = self.members.remove(&loser) else {
                continue;
            };
            for identifier in &moved.identifiers {
                if let Some(owner) = self.index.get_mut(identifier) {
                    owner.clone_from(&winner);
                }
            }
            if let Some(m) = self.members.get_mut(&winner) {
                m.identifiers.extend(moved.identifiers);
                m.counts.add_all(&moved.counts);
            }
            self.redirects.insert(loser.clone(), winner.clone());
            let record = MergeRecord {
                winner: winner.clone(),
                loser,
                linked_by: linked_by.clone(),
                message_id: message_id.to_owned(),
                at,
            };
            self.merge_log.push(record.clone());
            merges.push(record);
        }
        if let Some(m) = self.members.get_mut(&winner) {
            for id in new_ids {
                if self.index.contains_key(id) {
                    continue; // the profile was just created from it
                }
                self.index.insert(id.clone(), winner.clone());
                m.identifiers.push(id.clone());
                m.counts.add(&id.kind, 1);
            }
        }
        Some(Resolution {
            profile: winner,
            created,
            merges,
            left_out,
        })
    }

    /// Whether a group with `counts` can take identifiers counted by `more`
    /// and keep every kind within its limit.
    fn fits(&self, counts: &KindCounts, more: &KindCounts) -> bool {
        more.0
            .iter()
            .all(|(kind, n)| counts.get(kind) + n <= self.config.rule(kind).1)
    }

    /// A new profile holding `first`, with an id derived from it.
    fn create(&mut self, first: &Identifier) -> ProfileId {
        let kind = first.kind.to_string();
        let high = stable_hash(0, &[&kind, &first.value]);
        let low = stable_hash(1, &[&kind, &first.value]) as u32;
        let id = ProfileId::from(format!("p_{high:016x}{low:08x}"));
        self.created += 1;
        let mut counts = KindCounts::default();
        counts.add(&first.kind, 1);
        self.members.insert(
            id.clone(),
            Members {
                created: self.created,
                identifiers: vec![first.clone()],
                counts,
            },
        );
        self.index.insert(first.clone(), id.clone());
        id
    }

    /// Removes a profile and its identifiers, and remembers the identifiers
    /// so late events cannot rebuild it. Returns what it held.
    pub fn forget(&mut self, profile: &ProfileId) -> Vec<Identifier> {
        let Some(members) = self.members.remove(profile) else {
            return Vec::new();
        };
        for id in &members.identifiers {
            self.index.remove(id);
            self.forgotten.insert(id.clone());
        }
        self.redirects.retain(|_, to| to != profile);
        self.merge_log.retain(|m| m.winner != *profile);
        members.identifiers
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(text: &str) -> Identifier {
        let (kind, value) = text.split_once('=').unwrap();
        let kind = match kind {
            "user_id" => IdentifierKind::UserId,
            "anonymous_id" => IdentifierKind::AnonymousId,
            "email" => IdentifierKind::Email,
            "device_id" => IdentifierKind::DeviceId,
            other => IdentifierKind::External(other.to_owned()),
        };
        Identifier::new(kind, value)
    }

    /// Resolves each event (identifiers separated by spaces) in turn and
    /// renders the final grouping: profiles' identifiers, sorted.
    fn check(events: &[&str], expect: &[&str]) {
        let mut graph = IdentityGraph::new(IdentityConfig::default());
        let at = waymark_core::parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        for (n, event) in events.iter().enumerate() {
            let config = graph.config().clone();
            let mut ids: Vec<Identifier> = event.split(' ').map(id).collect();
            ids.sort_by_key(|i| config.rule(&i.kind).0);
            graph.resolve(&ids, at, &n.to_string());
        }
        let mut groups: Vec<String> = graph
            .members
            .values()
            .map(|m| {
                let mut ids: Vec<String> = m.identifiers.iter().map(ToString::to_string).collect();
                ids.sort();
                ids.join(" ")
            })
            .collect();
        groups.sort();
        assert_eq!(groups, expect);
    }

    #[test]
    fn links_what_events_connect() {
        check(
            &["anonymous_id=a1", "anonymous_id=a1 user_id=u1"],
            &["anonymous_id=a1 user_id=u1"],
        );
        check(
            &[
                "anonymous_id=a1",
                "anonymous_id=a2",
                "user_id=u1 anonymous_id=a1",
                "user_id=u1 anonymous_id=a2",
            ],
            &["anonymous_id=a1 anonymous_id=a2 user_id=u1"],
        );
    }

    #[test]
    fn a_shared_device_does_not_merge_two_users() {
        check(
            &["user_id=alice device_id=ipad", "user_id=bob device_id=ipad"],
            &["device_id=ipad user_id=alice", "user_id=bob"],
        );
    }

    #[test]
    fn a_limit_conflict_resolves_by_the_highest_priority_identifier() {
        check(
            &[
                "user_id=alice email=fam@x.io",
                "user_id=bob email=fam@x.io anonymous_id=b1",
            ],
            &[
                "anonymous_id=b1 user_id=bob",
                "email=fam@x.io user_id=alice",
            ],
        );
    }

    #[test]
    fn the_older_profile_survives_and_the_loser_redirects() {
        let mut graph = IdentityGraph::new(IdentityConfig::default());
        let at = waymark_core::parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        let old = graph
            .resolve(&[id("anonymous_id=a1")], at, "m1")
            .unwrap()
            .profile;
        let young = graph
            .resolve(&[id("email=e@x.io")], at, "m2")
            .unwrap()
            .profile;
        let r = graph
            .resolve(&[id("email=e@x.io"), id("anonymous_id=a1")], at, "m3")
            .unwrap();
        assert_eq!(r.profile, old);
        assert_eq!(r.merges.len(), 1);
        assert_eq!(r.merges[0].loser, young);
        assert_eq!(r.merges[0].linked_by, id("email=e@x.io"));
        assert_eq!(r.merges[0].message_id, "m3");
        assert_eq!(graph.canonical(&young), Some(old.clone()));
        assert_eq!(graph.lookup(&id("email=e@x.io")), Some(old));
    }

    #[test]
    fn forgotten_identifiers_never_link_again() {
        let mut graph = IdentityGraph::new(IdentityConfig::default());
        let at = waymark_core::parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        let p = graph
            .resolve(&[id("user_id=u1"), id("anonymous_id=a1")], at, "m1")
            .unwrap()
            .profile;
        assert_eq!(graph.forget(&p).len(), 2);
        assert!(graph.resolve(&[id("anonymous_id=a1")], at, "m2").is_none());
        let fresh = graph
            .resolve(&[id("anonymous_id=a1"), id("anonymous_id=a9")], at, "m3")
            .unwrap();
        assert_eq!(graph.identifiers(&fresh.profile), &[id("anonymous_id=a9")]);
        assert_eq!(graph.canonical(&p), None);
    }
}
