//! The values Liquid templates see: JSON turned into Liquid values that
//! read a missing key as `nil` instead of failing, as Shopify's Liquid does
//! (so `{{ profile.traits.first_name | default: "friend" }}` works when the
//! trait is absent). liquid-rust itself is strict about missing keys.

use std::collections::BTreeMap;
use std::sync::Arc;

use liquid::model::{
    ArrayView, DisplayCow, KStringCow, ObjectView, ScalarCow, State, Value, ValueView,
};

/// A JSON value as Liquid sees it.
#[derive(Debug)]
pub(crate) enum Lax {
    Nil,
    /// A scalar (string, number, boolean), as a Liquid value.
    Scalar(Value),
    Array(Vec<Lax>),
    Object(BTreeMap<String, Lax>),
    /// A value converted once and seen by many renders.
    Shared(Arc<Lax>),
}

/// A JSON value converted once for many renders: each person's profile in
/// a delivery round, say (see [`Scope::shared`]).
#[derive(Debug, Clone)]
pub struct SharedValue(Arc<Lax>);

impl SharedValue {
    pub fn from_json(value: &serde_json::Value) -> Self {
        SharedValue(Arc::new(Lax::from_json(value)))
    }
}

/// What a template sees: named values (`profile`, `event`, `journey`,
/// `unsubscribe_url`, ...); a missing one reads as `nil`.
#[derive(Debug, Default)]
pub struct Scope(BTreeMap<String, Lax>);

impl Scope {
    pub fn new() -> Self {
        Scope::default()
    }

    /// `name` is `value`, converted now.
    pub fn json(mut self, name: &str, value: &serde_json::Value) -> Self {
        self.0.insert(name.to_owned(), Lax::from_json(value));
        self
    }

    /// `name` is `value`, converted already: no copy.
    pub fn shared(mut self, name: &str, value: &SharedValue) -> Self {
        self.0
            .insert(name.to_owned(), Lax::Shared(Arc::clone(&value.0)));
        self
    }
}

impl ObjectView for Scope {
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
        Box::new(self.0.values().map(|v| v as &dyn ValueView))
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        Box::new(
            self.0
                .iter()
                .map(|(k, v)| (KStringCow::from_ref(k), v as &dyn ValueView)),
        )
    }

    fn contains_key(&self, _index: &str) -> bool {
        true
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        Some(self.0.get(index).unwrap_or(&NIL))
    }
}

impl ValueView for Scope {
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
                .map(|(k, v)| (k.clone().into(), v.to_value()))
                .collect(),
        )
    }

    fn as_object(&self) -> Option<&dyn ObjectView> {
        Some(self)
    }
}

static NIL: Lax = Lax::Nil;

impl Lax {
    pub fn from_json(value: &serde_json::Value) -> Self {
        use serde_json::Value as J;
        match value {
            J::Null => Lax::Nil,
            J::Bool(b) => Lax::Scalar(Value::scalar(*b)),
            J::Number(n) => match n.as_i64() {
                Some(i) => Lax::Scalar(Value::scalar(i)),
                None => Lax::Scalar(Value::scalar(n.as_f64().unwrap_or_default())),
            },
            J::String(s) => Lax::Scalar(Value::scalar(s.clone())),
            J::Array(items) => Lax::Array(items.iter().map(Lax::from_json).collect()),
            J::Object(map) => Lax::Object(
                map.iter()
                    .map(|(k, v)| (k.clone(), Lax::from_json(v)))
                    .collect(),
            ),
        }
    }
}

impl ValueView for Lax {
    fn as_debug(&self) -> &dyn std::fmt::Debug {
        self
    }

    fn render(&self) -> DisplayCow<'_> {
        match self {
            Lax::Shared(inner) => inner.render(),
            Lax::Scalar(v) => v.render(),
            _ => DisplayCow::Owned(Box::new(self.to_value().render().to_string())),
        }
    }

    fn source(&self) -> DisplayCow<'_> {
        match self {
            Lax::Shared(inner) => inner.source(),
            Lax::Scalar(v) => v.source(),
            _ => DisplayCow::Owned(Box::new(self.to_value().source().to_string())),
        }
    }

    fn type_name(&self) -> &'static str {
        match self {
            Lax::Shared(inner) => inner.type_name(),
            Lax::Nil => "nil",
            Lax::Scalar(v) => v.type_name(),
            Lax::Array(_) => "array",
            Lax::Object(_) => "object",
        }
    }

    fn query_state(&self, state: State) -> bool {
        match self {
            Lax::Shared(inner) => inner.query_state(state),
            Lax::Nil => !matches!(state, State::Truthy),
            Lax::Scalar(v) => v.query_state(state),
            Lax::Array(items) => match state {
                State::Truthy => true,
                State::DefaultValue | State::Empty | State::Blank => items.is_empty(),
            },
            Lax::Object(map) => match state {
                State::Truthy => true,
                State::DefaultValue | State::Empty | State::Blank => map.is_empty(),
            },
        }
    }

    fn to_kstr(&self) -> KStringCow<'_> {
        match self {
            Lax::Shared(inner) => inner.to_kstr(),
            Lax::Scalar(v) => v.to_kstr(),
            _ => KStringCow::from_string(self.render().to_string()),
        }
    }

    fn to_value(&self) -> Value {
        match self {
            Lax::Shared(inner) => inner.to_value(),
            Lax::Nil => Value::Nil,
            Lax::Scalar(v) => v.clone(),
            Lax::Array(items) => Value::Array(items.iter().map(Lax::to_value).collect()),
            Lax::Object(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.clone().into(), v.to_value()))
                    .collect(),
            ),
        }
    }

    fn as_scalar(&self) -> Option<ScalarCow<'_>> {
        match self {
            Lax::Shared(inner) => inner.as_scalar(),
            Lax::Scalar(v) => v.as_scalar(),
            _ => None,
        }
    }

    fn as_array(&self) -> Option<&dyn ArrayView> {
        if let Lax::Shared(inner) = self {
            return inner.as_array();
        }
        matches!(self, Lax::Array(_)).then_some(self as &dyn ArrayView)
    }

    /// `nil` answers every key with `nil`, so deep paths into missing
    /// values stay `nil` too.
    fn as_object(&self) -> Option<&dyn ObjectView> {
        if let Lax::Shared(inner) = self {
            return inner.as_object();
        }
        matches!(self, Lax::Object(_) | Lax::Nil).then_some(self as &dyn ObjectView)
    }

    fn is_nil(&self) -> bool {
        if let Lax::Shared(inner) = self {
            return inner.is_nil();
        }
        matches!(self, Lax::Nil)
    }
}

impl ArrayView for Lax {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        match self {
            Lax::Array(items) => items.len() as i64,
            _ => 0,
        }
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match self {
            Lax::Array(items) => Box::new(items.iter().map(|v| v as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn contains_key(&self, index: i64) -> bool {
        ArrayView::get(self, index).is_some()
    }

    fn get(&self, index: i64) -> Option<&dyn ValueView> {
        let Lax::Array(items) = self else {
            return None;
        };
        let len = items.len() as i64;
        let at = if index < 0 { len + index } else { index };
        usize::try_from(at)
            .ok()
            .and_then(|i| items.as_slice().get(i))
            .map(|v| v as &dyn ValueView)
    }
}

impl ObjectView for Lax {
    fn as_value(&self) -> &dyn ValueView {
        self
    }

    fn size(&self) -> i64 {
        match self {
            Lax::Object(map) => map.len() as i64,
            _ => 0,
        }
    }

    fn keys<'k>(&'k self) -> Box<dyn Iterator<Item = KStringCow<'k>> + 'k> {
        match self {
            Lax::Object(map) => Box::new(map.keys().map(|k| KStringCow::from_ref(k))),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn values<'k>(&'k self) -> Box<dyn Iterator<Item = &'k dyn ValueView> + 'k> {
        match self {
            Lax::Object(map) => Box::new(map.values().map(|v| v as &dyn ValueView)),
            _ => Box::new(std::iter::empty()),
        }
    }

    fn iter<'k>(&'k self) -> Box<dyn Iterator<Item = (KStringCow<'k>, &'k dyn ValueView)> + 'k> {
        match self {
            Lax::Object(map) => Box::new(
                map.iter()
                    .map(|(k, v)| (KStringCow::from_ref(k), v as &dyn ValueView)),
            ),
            _ => Box::new(std::iter::empty()),
        }
    }

    /// Every key is there: a missing one reads as `nil`.
    fn contains_key(&self, _index: &str) -> bool {
        true
    }

    fn get<'s>(&'s self, index: &str) -> Option<&'s dyn ValueView> {
        let found = match self {
            Lax::Object(map) => map.get(index),
            _ => None,
        };
        match found {
            Some(value) => Some(value),
            // Liquid answers `size` itself when the object has no such key.
            None if index == "size" => None,
            None => Some(&NIL),
        }
    }
}
