//! The values Liquid templates see: JSON read in place (no conversion into
//! Liquid's own values), where a missing key reads as `nil` instead of
//! failing, as Shopify's Liquid does (so `{{ profile.traits.first_name |
//! default: "friend" }}` works when the trait is absent). liquid-rust
//! itself is strict about missing keys.
//!
//! A template reads a handful of keys; converting a whole profile or event
//! into Liquid values for each delivery cost more than rendering it, so
//! the values are views: [`json`] sees a `serde_json::Value` through
//! Liquid's traits, [`profile`] a shared `Profile`.

/// `ValueView` for a type whose `ObjectView` says everything: an object
/// renders, reads as empty and converts through its keys and values.
macro_rules! object_value_view {
    ($ty:ty) => {
        impl liquid::model::ValueView for $ty {
            fn as_debug(&self) -> &dyn std::fmt::Debug {
                self
            }

            fn render(&self) -> liquid::model::DisplayCow<'_> {
                liquid::model::DisplayCow::Owned(Box::new(self.to_value().render().to_string()))
            }

            fn source(&self) -> liquid::model::DisplayCow<'_> {
                liquid::model::DisplayCow::Owned(Box::new(self.to_value().source().to_string()))
            }

            fn type_name(&self) -> &'static str {
                "object"
            }

            fn query_state(&self, state: liquid::model::State) -> bool {
                match state {
                    liquid::model::State::Truthy => true,
                    liquid::model::State::DefaultValue
                    | liquid::model::State::Empty
                    | liquid::model::State::Blank => liquid::model::ObjectView::size(self) == 0,
                }
            }

            fn to_kstr(&self) -> liquid::model::KStringCow<'_> {
                liquid::model::KStringCow::from_string(self.render().to_string())
            }

            fn to_value(&self) -> liquid::model::Value {
                liquid::model::Value::Object(
                    liquid::model::ObjectView::iter(self)
                        .map(|(k, v)| (k.into_owned(), v.to_value()))
                        .collect(),
                )
            }

            fn as_object(&self) -> Option<&dyn liquid::model::ObjectView> {
                Some(self)
            }
        }
    };
}

mod json;
mod profile;

use std::collections::BTreeMap;
use std::sync::Arc;

use liquid::model::{KStringCow, ObjectView, ValueView};
use ref_cast::RefCast;
use serde_json::Value as JsonValue;
use waymark_core::Profile;

use json::{Json, NIL};
use profile::ProfileView;

/// A value shared by many renders: each person's profile in a delivery
/// round, say (see [`Scope::shared`]).
#[derive(Debug, Clone)]
pub struct SharedValue(Shared);

#[derive(Debug, Clone)]
enum Shared {
    Json(Arc<JsonValue>),
    Profile(Arc<ProfileView>),
}

impl SharedValue {
    pub fn new(value: JsonValue) -> Self {
        SharedValue(Shared::Json(Arc::new(value)))
    }

    /// A copy of `value`, shared.
    pub fn from_json(value: &JsonValue) -> Self {
        SharedValue::new(value.clone())
    }

    /// A profile as templates see it: exactly its JSON (`traits`, `id`,
    /// `user_id`, `events`, ...), but `traits` and the ids are read in
    /// place and the rest is made JSON only if a template reads it.
    pub fn profile(profile: Arc<Profile>) -> Self {
        SharedValue(Shared::Profile(Arc::new(ProfileView::new(profile))))
    }
}

/// One named value of a [`Scope`].
#[derive(Debug)]
enum Held<'a> {
    Borrowed(&'a JsonValue),
    Owned(JsonValue),
    Shared(Shared),
}

impl Held<'_> {
    fn view(&self) -> &dyn ValueView {
        match self {
            Held::Borrowed(value) => Json::ref_cast(value),
            Held::Owned(value) => Json::ref_cast(value),
            Held::Shared(Shared::Json(value)) => Json::ref_cast(value),
            Held::Shared(Shared::Profile(profile)) => &**profile,
        }
    }
}

/// What a template sees: named values (`profile`, `event`, `journey`,
/// `unsubscribe_url`, ...); a missing one reads as `nil`.
#[derive(Debug, Default)]
pub struct Scope<'a>(BTreeMap<String, Held<'a>>);

impl<'a> Scope<'a> {
    pub fn new() -> Self {
        Scope::default()
    }

    /// `name` is `value`, borrowed.
    pub fn json(mut self, name: &str, value: &'a JsonValue) -> Self {
        self.0.insert(name.to_owned(), Held::Borrowed(value));
        self
    }

    /// `name` is `value`, owned by the scope.
    pub fn owned(mut self, name: &str, value: JsonValue) -> Self {
        self.0.insert(name.to_owned(), Held::Owned(value));
        self
    }

    /// `name` is `value`, shared with other scopes: no copy.
    pub fn shared(mut self, name: &str, value: &SharedValue) -> Self {
        self.0
            .insert(name.to_owned(), Held::Shared(value.0.clone()));
        self
    }
}

impl ObjectView for Scope<'_> {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        self.0.len() as i64
    }

    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        Box::new(self.0.keys().map(|k| KStringCow::from_ref(k)))
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        Box::new(self.0.values().map(Held::view))
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.0
                .iter()
                .map(|(k, v)| (KStringCow::from_ref(k), v.view())),
        )
    }

    fn contains_key(&self, _index: &str) -> bool {
        true
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        Some(self.0.get(index).map_or(&NIL as &dyn ValueView, Held::view))
    }
}

object_value_view!(Scope<'_>);
