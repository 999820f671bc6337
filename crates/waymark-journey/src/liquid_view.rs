//! The values Liquid templates see: JSON read in place (no conversion into
//! Liquid's own values), where a missing key reads as `nil` instead of
//! failing, as Shopify's Liquid does (so `{{ profile.traits.first_name |
//! default: "friend" }}` works when the trait is absent). liquid-rust
//! itself is strict about missing keys.
//!
//! A template reads a handful of keys; converting a whole profile or event
//! into Liquid values for each delivery cost more than rendering it, so
//! [`Json`] is a view: a `serde_json::Value` seen through Liquid's traits.

use std::collections::BTreeMap;
use std::sync::{Arc, OnceLock};

use liquid::model::{
    ArrayView, DisplayCow, KStringCow, ObjectView, ScalarCow, State, Value, ValueView,
};
use ref_cast::RefCast;
use serde_json::{Map, Value as JsonValue};
use waymark_core::Profile;

/// A JSON value as Liquid sees it: borrowed, never converted.
#[derive(Debug, RefCast)]
#[repr(transparent)]
pub(crate) struct Json(JsonValue);

/// `nil`: what a missing name or key reads as.
static NIL: Json = Json(JsonValue::Null);

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
        SharedValue(Shared::Profile(Arc::new(ProfileView {
            profile,
            json: OnceLock::new(),
        })))
    }
}

/// See [`SharedValue::profile`].
#[derive(Debug)]
pub(crate) struct ProfileView {
    profile: Arc<Profile>,
    /// The whole profile as JSON, for what is not read in place.
    json: OnceLock<JsonValue>,
}

impl ProfileView {
    fn json(&self) -> &Json {
        Json::ref_cast(
            self.json
                .get_or_init(|| serde_json::to_value(&self.profile).unwrap_or_default()),
        )
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

impl ValueView for Scope<'_> {
    fn as_debug(&self) -> &dyn std::fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().render().to_string()))
    }

    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().source().to_string()))
    }

    fn type_name(&self) -> &'static str {
        "object"
    }

    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => self.0.is_empty(),
        }
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(self.render().to_string())
    }

    fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone().into(), v.view().to_value()))
                .collect(),
        )
    }

    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl Json {
    /// The object this value is, if it is one.
    fn object(&self) -> Option<&JsonObject> {
        match &self.0 {
            JsonValue::Object(map) => Some(JsonObject::ref_cast(map)),
            _ => None,
        }
    }

    /// The scalar this value is (a string borrowed), if it is one.
    fn scalar(&self) -> Option<ScalarCow<'_>> {
        match &self.0 {
            JsonValue::Bool(b) => Some(ScalarCow::new(*b)),
            JsonValue::Number(n) => Some(match n.as_i64() {
                Some(i) => ScalarCow::new(i),
                None => ScalarCow::new(n.as_f64().unwrap_or_default()),
            }),
            JsonValue::String(s) => Some(ScalarCow::new(s.as_str())),
            _ => None,
        }
    }
}

impl ValueView for Json {
    fn as_debug(&self) -> &dyn std::fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        match &self.0 {
            JsonValue::String(s) => DisplayCow::Borrowed(s),
            JsonValue::Null => DisplayCow::Borrowed(&""),
            _ => DisplayCow::Owned(Box::new(self.to_value().render().to_string())),
        }
    }

    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().source().to_string()))
    }

    fn type_name(&self) -> &'static str {
        match &self.0 {
            JsonValue::Null => "nil",
            JsonValue::Array(_) => "array",
            JsonValue::Object(_) => "object",
            _ => self.scalar().map_or("nil", |s| s.type_name()),
        }
    }

    fn query_state(&self, state: State) -> bool {
        match &self.0 {
            JsonValue::Null => !matches!(state, State::Truthy),
            JsonValue::Array(items) => match state {
                State::Truthy => true,
                State::DefaultValue | State::Empty | State::Blank => items.is_empty(),
            },
            JsonValue::Object(map) => JsonObject::ref_cast(map).query_state(state),
            _ => self.scalar().is_some_and(|s| s.query_state(state)),
        }
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        match &self.0 {
            JsonValue::String(s) => KStringCow::from_ref(s),
            _ => KStringCow::from_string(self.render().to_string()),
        }
    }

    fn to_value(&self) -> Value {
        match &self.0 {
            JsonValue::Null => Value::Nil,
            JsonValue::Bool(b) => Value::scalar(*b),
            JsonValue::Number(n) => match n.as_i64() {
                Some(i) => Value::scalar(i),
                None => Value::scalar(n.as_f64().unwrap_or_default()),
            },
            JsonValue::String(s) => Value::scalar(s.clone()),
            JsonValue::Array(items) => {
                Value::Array(items.iter().map(|v| Json::ref_cast(v).to_value()).collect())
            }
            JsonValue::Object(map) => JsonObject::ref_cast(map).to_value(),
        }
    }

    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        self.scalar()
    }

    fn as_array(&self) -> Option<&dyn ArrayView> {
        matches!(self.0, JsonValue::Array(_)).then_some(self as &dyn ArrayView)
    }

    /// `nil` answers every key with `nil`, so deep paths into missing
    /// values stay `nil` too.
    fn as_object(&self) -> Option<&dyn ObjectView> {
        matches!(self.0, JsonValue::Object(_) | JsonValue::Null).then_some(self as &dyn ObjectView)
    }

    fn is_nil(&self) -> bool {
        self.0.is_null()
    }
}

impl ArrayView for Json {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        match &self.0 {
            JsonValue::Array(items) => items.len() as i64,
            _ => 0,
        }
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match &self.0 {
            JsonValue::Array(items) => {
                Box::new(items.iter().map(|v| Json::ref_cast(v) as &dyn ValueView))
            }
            _ => Box::new(std::iter::empty()),
        }
    }

    fn contains_key(&self, index: i64) -> bool {
        ArrayView::get(self, index).is_some()
    }

    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        let JsonValue::Array(items) = &self.0 else {
            return None;
        };
        let len = items.len() as i64;
        let at = if index < 0 { len + index } else { index };
        usize::try_from(at)
            .ok()
            .and_then(|i| items.get(i))
            .map(|v| Json::ref_cast(v) as &dyn ValueView)
    }
}

/// An object's keys through [`JsonObject`]; `nil` has none and answers
/// every key with `nil`.
impl ObjectView for Json {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        self.object().map_or(0, ObjectView::size)
    }

    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        match self.object() {
            Some(object) => object.keys(),
            None => Box::new(std::iter::empty()),
        }
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match self.object() {
            Some(object) => ObjectView::values(object),
            None => Box::new(std::iter::empty()),
        }
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        match self.object() {
            Some(object) => object.iter(),
            None => Box::new(std::iter::empty()),
        }
    }

    fn contains_key(&self, _index: &str) -> bool {
        true
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        match self.object() {
            Some(object) => ObjectView::get(object, index),
            // Liquid answers `size` itself when the object has no such key.
            None => (index != "size").then_some(&NIL as &dyn ValueView),
        }
    }
}

/// A string as Liquid sees it: borrowed (`String` or `Arc<str>`).
#[derive(Debug, RefCast)]
#[repr(transparent)]
struct Text<S>(S);

impl<S> ValueView for Text<S>
where
    S: AsRef<str> + std::fmt::Display + std::fmt::Debug + Send + Sync,
{
    fn as_debug(&self) -> &dyn std::fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Borrowed(&self.0)
    }

    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().source().to_string()))
    }

    fn type_name(&self) -> &'static str {
        "string"
    }

    fn query_state(&self, state: State) -> bool {
        ScalarCow::new(self.0.as_ref()).query_state(state)
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_ref(self.0.as_ref())
    }

    fn to_value(&self) -> Value {
        Value::scalar(self.0.as_ref().to_owned())
    }

    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        Some(ScalarCow::new(self.0.as_ref()))
    }
}

/// `profile`: `traits`, `id`, `user_id` and `anonymous_id` in place, the
/// rest from the profile's JSON (made once, on first use).
impl ValueView for ProfileView {
    fn as_debug(&self) -> &dyn std::fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        self.json().render()
    }

    fn source(&self) -> DisplayCow<'_> {
        self.json().source()
    }

    fn type_name(&self) -> &'static str {
        "object"
    }

    fn query_state(&self, state: State) -> bool {
        self.json().query_state(state)
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        self.json().to_kstr()
    }

    fn to_value(&self) -> Value {
        self.json().to_value()
    }

    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for ProfileView {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        ObjectView::size(self.json())
    }

    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        self.json().keys()
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        ObjectView::values(self.json())
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        self.json().iter()
    }

    fn contains_key(&self, _index: &str) -> bool {
        true
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        let text = |value: Option<&'s String>| -> &'s dyn ValueView {
            value.map_or(&NIL, |v| Text::ref_cast(v))
        };
        let p = &self.profile;
        Some(match index {
            "traits" => JsonObject::ref_cast(&p.traits),
            "id" => Text::ref_cast(&p.id.0),
            "user_id" => text(p.user_id.as_ref()),
            "anonymous_id" => text(p.anonymous_id.as_ref()),
            _ => return ObjectView::get(self.json(), index),
        })
    }
}

/// A JSON object as Liquid sees it: borrowed (a profile's traits).
#[derive(Debug, RefCast)]
#[repr(transparent)]
struct JsonObject(Map<String, JsonValue>);

impl ValueView for JsonObject {
    fn as_debug(&self) -> &dyn std::fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().render().to_string()))
    }

    fn source(&self) -> DisplayCow<'_> {
        DisplayCow::Owned(Box::new(self.to_value().source().to_string()))
    }

    fn type_name(&self) -> &'static str {
        "object"
    }

    fn query_state(&self, state: State) -> bool {
        match state {
            State::Truthy => true,
            State::DefaultValue | State::Empty | State::Blank => self.0.is_empty(),
        }
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        KStringCow::from_string(self.render().to_string())
    }

    fn to_value(&self) -> Value {
        Value::Object(
            self.0
                .iter()
                .map(|(k, v)| (k.clone().into(), Json::ref_cast(v).to_value()))
                .collect(),
        )
    }

    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

impl ObjectView for JsonObject {
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
        Box::new(self.0.values().map(|v| Json::ref_cast(v) as &dyn ValueView))
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.0
                .iter()
                .map(|(k, v)| (KStringCow::from_ref(k), Json::ref_cast(v) as &dyn ValueView)),
        )
    }

    /// Every key is there: a missing one reads as `nil`.
    fn contains_key(&self, _index: &str) -> bool {
        true
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        match self.0.get(index) {
            Some(value) => Some(Json::ref_cast(value)),
            // Liquid answers `size` itself when the object has no such key.
            None if index == "size" => None,
            None => Some(&NIL),
        }
    }
}
