//! Profiles by canonical id, kept in step with the identity graph: the
//! in-memory façade the runtime and the admin use.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::{Value, json};
use waymark_core::{Event, EventType, Identifier, IdentifierKind, Profile, ProfileId};

use crate::config::IdentityConfig;
use crate::extract::{identifiers_of, normalize};
use crate::graph::{IdentityGraph, MergeRecord};
use crate::merge::absorb;
use crate::observe::observe;

/// An event resolved to its profile.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    pub profile: ProfileId,
    pub created: bool,
    /// Profiles merged into `profile` by this event: their data is already
    /// folded in; their journey instances are the runtime's to fold.
    pub merges: Vec<MergeRecord>,
    pub left_out: Vec<Identifier>,
}

/// What `forget` removed.
#[derive(Debug, Clone, PartialEq)]
pub struct Forgotten {
    pub profile: ProfileId,
    pub identifiers: Vec<Identifier>,
}

/// The identity graph and the unified profiles it resolves to.
#[derive(Debug, Clone, Default)]
pub struct Identity {
    graph: IdentityGraph,
    /// Shared (copy on write): a reader such as a delivery round takes a
    /// profile without copying it; the next change copies it only if that
    /// reader still holds it.
    profiles: HashMap<ProfileId, Arc<Profile>, foldhash::fast::RandomState>,
}

impl Identity {
    pub fn new(config: IdentityConfig) -> Self {
        Identity {
            graph: IdentityGraph::new(config),
            profiles: HashMap::default(),
        }
    }

    pub fn graph(&self) -> &IdentityGraph {
        &self.graph
    }

    /// Rebuilds the state from a restored graph and the stored profiles.
    pub fn restore(graph: IdentityGraph, profiles: impl IntoIterator<Item = Profile>) -> Self {
        Identity {
            graph,
            profiles: profiles
                .into_iter()
                .map(|p| (p.id.clone(), Arc::new(p)))
                .collect(),
        }
    }

    /// The graph, to load people into and let them go (see
    /// [`IdentityGraph::load`]); profiles go with [`Identity::load`].
    pub fn graph_mut(&mut self) -> &mut IdentityGraph {
        &mut self.graph
    }

    /// Takes in a stored live profile with its place in the graph.
    pub fn load(&mut self, profile: Profile, created: u64, identifiers: Vec<Identifier>) {
        self.graph.load(profile.id.clone(), created, identifiers);
        self.profiles.insert(profile.id.clone(), Arc::new(profile));
    }

    /// Lets go of a live profile (it stays where the caller keeps it).
    pub fn unload(&mut self, id: &ProfileId) -> Option<Arc<Profile>> {
        self.graph.unload(id);
        self.profiles.remove(id)
    }

    /// Every identifier resolving `event` may look up: what
    /// [`Identity::ingest`] resolves it by, and an alias's previous id
    /// both as a user id and as an anonymous id. Whoever holds only some
    /// people loads the owners of these first.
    pub fn identifiers_to_load(&self, event: &Event) -> Vec<Identifier> {
        let config = self.graph.config();
        let mut ids = identifiers_of(event, config);
        if let (EventType::Alias, Some(previous)) = (event.kind, &event.previous_id)
            && !config.is_blocked(previous)
        {
            ids.push(Identifier::new(IdentifierKind::UserId, previous.as_str()));
            ids.push(Identifier::new(
                IdentifierKind::AnonymousId,
                previous.as_str(),
            ));
        }
        ids
    }

    /// Resolves `event` to one profile (creating or merging as needed) and
    /// folds what it says into that profile. `None` when the event has no
    /// usable identifier (all blocked, or of a forgotten person).
    pub fn ingest(&mut self, event: &Event) -> Option<Resolved> {
        let config = self.graph.config();
        let mut ids = identifiers_of(event, config);
        if let (EventType::Alias, Some(previous)) = (event.kind, &event.previous_id)
            && !config.is_blocked(previous)
        {
            // The previous id is a user id if one is known by that value,
            // else an anonymous id (what alias calls usually carry).
            let as_user = Identifier::new(IdentifierKind::UserId, previous.as_str());
            let kind = if self.graph.lookup(&as_user).is_some() {
                IdentifierKind::UserId
            } else {
                IdentifierKind::AnonymousId
            };
            let id = Identifier::new(kind, previous.as_str());
            if !ids.contains(&id) {
                ids.push(id);
                let config = self.graph.config();
                ids.sort_by_key(|i| config.rule(&i.kind).0);
            }
        }
        let resolution = self
            .graph
            .resolve(&ids, event.timestamp, &event.message_id)?;
        let id = resolution.profile.clone();
        let losers: Vec<Arc<Profile>> = resolution
            .merges
            .iter()
            .filter_map(|merge| self.profiles.remove(&merge.loser))
            .collect();
        let profile = Arc::make_mut(
            self.profiles
                .entry(id)
                .or_insert_with_key(|id| Arc::new(Profile::new(id.clone()))),
        );
        for loser in losers {
            absorb(profile, Arc::unwrap_or_clone(loser));
        }
        observe(profile, event);
        Some(Resolved {
            profile: resolution.profile,
            created: resolution.created,
            merges: resolution.merges,
            left_out: resolution.left_out,
        })
    }

    /// The live profile `id` stands for (following merges).
    pub fn canonical(&self, id: &ProfileId) -> Option<ProfileId> {
        self.graph.canonical(id)
    }

    pub fn profile(&self, id: &ProfileId) -> Option<&Profile> {
        self.profiles.get(&self.canonical(id)?).map(Arc::as_ref)
    }

    /// The profile, shared: no copy now, and none later unless it changes
    /// while still held.
    pub fn shared_profile(&self, id: &ProfileId) -> Option<Arc<Profile>> {
        self.profiles.get(&self.canonical(id)?).map(Arc::clone)
    }

    pub fn profile_mut(&mut self, id: &ProfileId) -> Option<&mut Profile> {
        let id = self.canonical(id)?;
        self.profiles.get_mut(&id).map(Arc::make_mut)
    }

    /// The profile an identifier belongs to (emails and phones are
    /// normalised first, so `Ada@Example.com` finds `ada@example.com`).
    pub fn lookup(&self, identifier: &Identifier) -> Option<ProfileId> {
        self.graph.lookup(&normalize(identifier))
    }

    /// How many profiles there are (merged-away ones not counted).
    pub fn profile_count(&self) -> usize {
        self.profiles.len()
    }

    pub fn profiles(&self) -> impl Iterator<Item = &Profile> {
        self.profiles.values().map(Arc::as_ref)
    }

    /// Everything held about the person `identifier` belongs to, as JSON:
    /// the profile, its identifiers and the merges that built it.
    pub fn export(&self, identifier: &Identifier) -> Option<Value> {
        let id = self.lookup(identifier)?;
        let profile: &Profile = self.profiles.get(&id)?;
        let merges: Vec<&MergeRecord> = self
            .graph
            .merge_log()
            .iter()
            .filter(|m| m.winner == id)
            .collect();
        Some(json!({
            "profile": profile,
            "identifiers": self.graph.identifiers(&id),
            "merges": merges,
        }))
    }

    /// Removes the person `identifier` belongs to: profile, identifiers,
    /// traits; and records their identifiers so late events do not rebuild
    /// them. Journey state is the runtime's to drop.
    pub fn forget(&mut self, identifier: &Identifier) -> Option<Forgotten> {
        let id = self.lookup(identifier)?;
        self.profiles.remove(&id);
        let identifiers = self.graph.forget(&id);
        Some(Forgotten {
            profile: id,
            identifiers,
        })
    }
}
