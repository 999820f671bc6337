//! A `serde_json::Value` (and a JSON object) seen through Liquid's traits,
//! borrowed: a missing key reads as `nil`.

use liquid::model::{
    ArrayView, DisplayCow, KStringCow, ObjectView, ScalarCow, State, Value, ValueView,
};
use ref_cast::RefCast;
use serde_json::{Map, Value as JsonValue};

/// A JSON value as Liquid sees it: borrowed, never converted.
#[derive(Debug, RefCast)]
#[repr(transparent)]
pub(crate) struct Json(JsonValue);

/// `nil`: what a missing name or key reads as.
pub(super) static NIL: Json = Json(JsonValue::Null);
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

/// A JSON object as Liquid sees it: borrowed (a profile's traits).
#[derive(Debug, RefCast)]
#[repr(transparent)]
pub(super) struct JsonObject(Map<String, JsonValue>);

object_value_view!(JsonObject);

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
