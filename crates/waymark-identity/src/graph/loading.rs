//! A graph that holds only some people: those a caller loaded from where
//! it keeps them, taken out again when it needs the room. Resolution is
//! correct as long as every profile an event's identifiers point at is
//! loaded before the event is resolved.

use waymark_core::{Identifier, ProfileId};

use super::{IdentityGraph, KindCounts, Members, MergeRecord};

impl IdentityGraph {
    /// Takes in a stored live profile: its creation order and identifiers.
    pub fn load(&mut self, id: ProfileId, created: u64, identifiers: Vec<Identifier>) {
        let mut counts = KindCounts::default();
        for identifier in &identifiers {
            counts.add(&identifier.kind, 1);
            self.index.insert(identifier.clone(), id.clone());
        }
        self.created = self.created.max(created);
        self.members.insert(
            id,
            Members {
                created,
                identifiers,
                counts,
            },
        );
    }

    /// Lets go of a live profile and its identifiers (it stays where the
    /// caller keeps it). Returns whether it was loaded.
    pub fn unload(&mut self, id: &ProfileId) -> bool {
        let Some(members) = self.members.remove(id) else {
            return false;
        };
        for identifier in &members.identifiers {
            if self.index.get(identifier) == Some(id) {
                self.index.remove(identifier);
            }
        }
        true
    }

    /// Whether `id` is a live profile held now.
    pub fn is_loaded(&self, id: &ProfileId) -> bool {
        self.members.contains_key(id)
    }

    /// Where the merged-away `from` went, if that is held now.
    pub fn redirect(&self, from: &ProfileId) -> Option<&ProfileId> {
        self.redirects.get(from)
    }

    /// Takes in a stored redirect.
    pub fn load_redirect(&mut self, from: ProfileId, to: ProfileId) {
        self.redirects.insert(from, to);
    }

    /// Lets go of a redirect (it stays where the caller keeps it).
    pub fn unload_redirect(&mut self, from: &ProfileId) {
        self.redirects.remove(from);
    }

    /// The creation order the last profile created got: new profiles get
    /// higher ones.
    pub fn created_counter(&self) -> u64 {
        self.created
    }

    /// Raises the creation counter to at least `created` (the highest one
    /// ever handed out, as stored), so profiles created from now on are
    /// younger than every stored one.
    pub fn raise_created(&mut self, created: u64) {
        self.created = self.created.max(created);
    }

    /// Hands over the merges recorded since the last call (a caller that
    /// stores them keeps no log in memory).
    pub fn take_merge_log(&mut self) -> Vec<MergeRecord> {
        std::mem::take(&mut self.merge_log)
    }
}

#[cfg(test)]
mod tests {
    use waymark_core::{IdentifierKind, parse_timestamp};

    use super::*;
    use crate::config::IdentityConfig;

    fn user(v: &str) -> Identifier {
        Identifier::new(IdentifierKind::UserId, v)
    }

    fn anon(v: &str) -> Identifier {
        Identifier::new(IdentifierKind::AnonymousId, v)
    }

    #[test]
    fn a_graph_resolves_alike_whether_it_held_everyone_or_loaded_them() {
        let at = parse_timestamp("2026-01-01T00:00:00Z").unwrap();
        let mut full = IdentityGraph::new(IdentityConfig::default());
        let a = full.resolve(&[anon("a1")], at, "m1").unwrap().profile;
        let b = full.resolve(&[user("u1")], at, "m2").unwrap().profile;
        // A partial graph: only the two profiles, loaded from their parts.
        let mut partial = IdentityGraph::new(IdentityConfig::default());
        for id in [&b, &a] {
            let created = full.created_order(id).unwrap();
            partial.load(id.clone(), created, full.identifiers(id).to_vec());
        }
        partial.raise_created(full.created_counter());
        let linked = [user("u1"), anon("a1")];
        let one = full.resolve(&linked, at, "m3").unwrap();
        let two = partial.resolve(&linked, at, "m3").unwrap();
        assert_eq!(one, two, "the older profile wins in both");
        assert_eq!(partial.take_merge_log().len(), 1);
        assert!(partial.take_merge_log().is_empty());
        // Unloaded, the winner and its identifiers are gone from memory;
        // a redirect loaded back still leads to it once it is loaded.
        assert!(partial.unload(&one.profile));
        assert!(!partial.is_loaded(&one.profile));
        assert_eq!(partial.lookup(&user("u1")), None);
        partial.unload_redirect(&b);
        assert_eq!(partial.redirect(&b), None);
        partial.load_redirect(b.clone(), a.clone());
        partial.load(a.clone(), 1, vec![anon("a1"), user("u1")]);
        assert_eq!(partial.canonical(&b), Some(a.clone()));
        // A new profile is younger than every stored one.
        let c = partial.resolve(&[user("u2")], at, "m4").unwrap().profile;
        assert!(partial.created_order(&c).unwrap() > full.created_counter());
    }
}
