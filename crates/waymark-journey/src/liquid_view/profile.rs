//! A profile seen through Liquid's traits: `traits` and the ids read in
//! place, the rest from the profile's JSON, made once if a template reads it.

use std::sync::{Arc, OnceLock};

use liquid::model::{DisplayCow, KStringCow, ObjectView, ScalarCow, State, Value, ValueView};
use ref_cast::RefCast;
use serde_json::Value as JsonValue;
use waymark_core::Profile;

use super::json::{Json, JsonObject, NIL};

/// See [`super::SharedValue::profile`].
#[derive(Debug)]
pub(crate) struct ProfileView {
    profile: Arc<Profile>,
    /// The whole profile as JSON, for what is not read in place.
    json: OnceLock<JsonValue>,
}

impl ProfileView {
    pub(super) fn new(profile: Arc<Profile>) -> Self {
        ProfileView {
            profile,
            json: OnceLock::new(),
        }
    }

    fn json(&self) -> &Json {
        Json::ref_cast(
            self.json
                .get_or_init(|| serde_json::to_value(&self.profile).unwrap_or_default()),
        )
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
