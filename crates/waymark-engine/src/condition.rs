//! Evaluating compiled CEL conditions against a profile, an event and the
//! journey, converting into CEL values only the paths the expression reads.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use cel::objects::{Key, Map as CelMap};
use cel::{Context, Env, Value as Cel};
use serde_json::{Map, Value};
use waymark_core::{Event, Profile, format_timestamp};
use waymark_journey::{Expr, PathTrie};

/// What a condition can see.
pub(crate) struct Scope<'a> {
    pub profile: &'a Profile,
    /// The event being handled, if the step was caused by one.
    pub event: Option<&'a Event>,
    /// Otherwise the instance's entering event (`Instance::trigger`).
    pub trigger: &'a Value,
    pub journey: JourneyView<'a>,
    /// The purchase model and the time, for `profile.predictions`.
    pub predict: Option<(&'a crate::predict::PurchaseModel, waymark_core::Timestamp)>,
}

/// The `journey` variable.
pub(crate) struct JourneyView<'a> {
    pub id: &'a str,
    pub version: u32,
    pub node: &'a str,
    pub entered_at: Option<waymark_core::Timestamp>,
    pub control: bool,
}

/// A borrowed or computed JSON value.
enum Json<'a> {
    Ref(&'a Value),
    Map(&'a Map<String, Value>),
    Owned(Value),
}

impl Json<'_> {
    fn get(&self, key: &str) -> Option<Json<'_>> {
        match self {
            Json::Ref(Value::Object(m)) => m.get(key).map(Json::Ref),
            Json::Map(m) => m.get(key).map(Json::Ref),
            Json::Owned(Value::Object(m)) => m.get(key).map(Json::Ref),
            _ => None,
        }
    }

    fn is_object(&self) -> bool {
        matches!(
            self,
            Json::Map(_) | Json::Ref(Value::Object(_)) | Json::Owned(Value::Object(_))
        )
    }

    fn to_cel(&self) -> Cel {
        match self {
            Json::Ref(v) => to_cel(v),
            Json::Map(m) => map_to_cel(m),
            Json::Owned(v) => to_cel(v),
        }
    }
}

/// Converts any JSON value into a CEL value.
pub(crate) fn to_cel(value: &Value) -> Cel {
    match value {
        Value::Null => Cel::Null,
        Value::Bool(b) => Cel::Bool(*b),
        Value::Number(n) => match (n.as_i64(), n.as_u64()) {
            (Some(i), _) => Cel::Int(i),
            (None, Some(u)) => Cel::UInt(u),
            _ => Cel::Float(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => Cel::String(Arc::new(s.clone())),
        Value::Array(items) => Cel::List(Arc::new(items.iter().map(to_cel).collect())),
        Value::Object(m) => map_to_cel(m),
    }
}

fn map_to_cel(m: &Map<String, Value>) -> Cel {
    let map: HashMap<Key, Cel> = m
        .iter()
        .map(|(k, v)| (Key::String(Arc::new(k.clone())), to_cel(v)))
        .collect();
    Cel::Map(CelMap { map: Arc::new(map) })
}

/// Converts a CEL result back to JSON (for goal values); `None` for what
/// JSON cannot hold (functions, bytes, opaque values).
pub(crate) fn to_json(value: &Cel) -> Option<Value> {
    Some(match value {
        Cel::Null => Value::Null,
        Cel::Bool(b) => Value::Bool(*b),
        Cel::Int(i) => Value::from(*i),
        Cel::UInt(u) => Value::from(*u),
        Cel::Float(f) => serde_json::Number::from_f64(*f).map(Value::Number)?,
        Cel::String(s) => Value::from(s.as_str()),
        Cel::List(items) => Value::Array(items.iter().map(to_json).collect::<Option<_>>()?),
        Cel::Map(m) => {
            let mut out = Map::new();
            for (k, v) in m.map.iter() {
                let key = match k {
                    Key::String(s) => s.to_string(),
                    Key::Int(i) => i.to_string(),
                    Key::Uint(u) => u.to_string(),
                    Key::Bool(b) => b.to_string(),
                };
                out.insert(key, to_json(v)?);
            }
            Value::Object(out)
        }
        _ => return None,
    })
}

const EVENT_FIELDS: [&str; 11] = [
    "type",
    "messageId",
    "userId",
    "anonymousId",
    "event",
    "name",
    "properties",
    "traits",
    "context",
    "timestamp",
    "receivedAt",
];
const PROFILE_FIELDS: [&str; 11] = [
    "id",
    "user_id",
    "anonymous_id",
    "traits",
    "timezone",
    "events",
    "revenue",
    "consent",
    "engagement_hours",
    "segments",
    "predictions",
];

/// One event name's counters as CEL sees them; with `reads`, only the
/// fields read (formatting a time is most of the cost of a counter check).
fn event_stats(stats: &waymark_core::EventStats, reads: Option<&PathTrie>) -> Value {
    let wants = |field: &str| reads.is_none_or(|t| t.whole || t.children.contains_key(field));
    let mut out = Map::with_capacity(5);
    if wants("count") {
        out.insert("count".into(), Value::from(stats.count));
    }
    for (field, at) in [
        ("first_seen", stats.first_seen),
        ("last_seen", stats.last_seen),
        ("first", stats.first_seen),
        ("last", stats.last_seen),
    ] {
        if wants(field) {
            out.insert(field.into(), Value::from(format_timestamp(at)));
        }
    }
    Value::Object(out)
}
const JOURNEY_FIELDS: [&str; 5] = ["id", "version", "node", "entered_at", "control"];

impl<'a> Scope<'a> {
    fn event_field(&self, key: &str) -> Option<Json<'a>> {
        let Some(e) = self.event else {
            return self.trigger.get(key).map(Json::Ref);
        };
        let text = |s: &Option<String>| s.as_deref().map(|s| Json::Owned(Value::from(s)));
        match key {
            "type" => Some(Json::Owned(Value::from(e.kind.as_str()))),
            "messageId" => Some(Json::Owned(Value::from(e.message_id.as_str()))),
            "userId" => text(&e.user_id),
            "anonymousId" => text(&e.anonymous_id),
            "event" | "name" => text(&e.event),
            "properties" => Some(Json::Map(&e.properties)),
            "traits" => Some(Json::Map(&e.traits)),
            "context" => Some(Json::Map(&e.context)),
            "timestamp" => Some(Json::Owned(Value::from(format_timestamp(e.timestamp)))),
            "receivedAt" => Some(Json::Owned(Value::from(format_timestamp(e.received_at)))),
            _ => None,
        }
    }

    fn profile_field(&self, key: &str) -> Option<Json<'a>> {
        let p = self.profile;
        match key {
            "id" => Some(Json::Owned(Value::from(p.id.as_str()))),
            "user_id" => p.user_id.as_deref().map(|s| Json::Owned(Value::from(s))),
            "anonymous_id" => p
                .anonymous_id
                .as_deref()
                .map(|s| Json::Owned(Value::from(s))),
            "traits" => Some(Json::Map(&p.traits)),
            "timezone" => p.timezone.as_deref().map(|s| Json::Owned(Value::from(s))),
            "events" => Some(Json::Owned(Value::Object(
                p.events
                    .iter()
                    .map(|(name, stats)| (name.clone(), event_stats(stats, None)))
                    .collect(),
            ))),
            "revenue" => Some(Json::Owned(Value::from(p.revenue))),
            "consent" => Some(Json::Owned(Value::Object(
                p.consent
                    .iter()
                    .map(|(k, c)| (k.clone(), Value::Bool(c.subscribed)))
                    .collect(),
            ))),
            "engagement_hours" => Some(Json::Owned(Value::from(p.engagement_hours.to_vec()))),
            "predictions" => {
                let (model, now) = self.predict?;
                Some(Json::Owned(model.predictions(p, now)?.to_json()))
            }
            "segments" => Some(Json::Owned(Value::Object(
                p.segments
                    .iter()
                    .filter(|(id, _)| id.as_str() != crate::segments::EVERYONE)
                    .map(|(id, since)| (id.clone(), Value::from(format_timestamp(*since))))
                    .collect(),
            ))),
            _ => None,
        }
    }

    fn journey_field(&self, key: &str) -> Option<Json<'a>> {
        let j = &self.journey;
        Some(Json::Owned(match key {
            "id" => Value::from(j.id),
            "version" => Value::from(j.version),
            "node" => Value::from(j.node),
            "entered_at" => Value::from(format_timestamp(j.entered_at?)),
            "control" => Value::from(j.control),
            _ => return None,
        }))
    }

    /// A member of one of the three variables.
    fn member(&self, variable: &str, key: &str) -> Option<Json<'a>> {
        match variable {
            "event" => self.event_field(key),
            "profile" => self.profile_field(key),
            _ => self.journey_field(key),
        }
    }

    /// The CEL value of a variable, holding only what `trie` reads.
    fn root(&self, variable: &str, trie: &PathTrie) -> Cel {
        let fields: &[&str] = match variable {
            "event" => &EVENT_FIELDS,
            "profile" => &PROFILE_FIELDS,
            _ => &JOURNEY_FIELDS,
        };
        let mut map = HashMap::with_capacity(if trie.whole {
            fields.len()
        } else {
            trie.children.len()
        });
        if trie.whole {
            for key in fields {
                if let Some(value) = self.member(variable, key) {
                    map.insert(Key::String(Arc::new((*key).to_owned())), value.to_cel());
                }
            }
        } else {
            for (key, child) in &trie.children {
                let value = if variable == "profile" && key == "events" && !child.whole {
                    // Only the event names the expression reads.
                    let events = &self.profile.events;
                    Some(Json::Owned(Value::Object(
                        child
                            .children
                            .iter()
                            .filter_map(|(name, reads)| {
                                events
                                    .get(name)
                                    .map(|s| (name.clone(), event_stats(s, Some(reads))))
                            })
                            .collect(),
                    )))
                } else {
                    self.member(variable, key)
                };
                if let (Some(value), Some(cel_key)) = (value, &child.key) {
                    map.insert(cel_key.clone(), sparse(&value, child));
                }
            }
        }
        Cel::Map(CelMap { map: Arc::new(map) })
    }

    /// A CEL context holding what `roots` read, to evaluate several
    /// expressions reading no more than that (see [`Scope::test_in`]).
    pub(crate) fn context(
        &self,
        env: &Arc<Env>,
        roots: &BTreeMap<String, PathTrie>,
    ) -> Context<'static, 'static> {
        let mut ctx = Context::with_env(Arc::clone(env));
        for (name, trie) in roots {
            ctx.add_variable_from_value(name.as_str(), self.root(name, trie));
        }
        ctx
    }

    /// [`Scope::test`] in a context built by [`Scope::context`].
    pub(crate) fn test_in(ctx: &Context<'_, '_>, expr: &Expr) -> bool {
        matches!(expr.program().execute(ctx), Ok(Cel::Bool(true)))
    }

    /// Evaluates `expr`. Errors (a missing field, a type mismatch) are
    /// returned as text.
    pub(crate) fn eval(&self, env: &Arc<Env>, expr: &Expr) -> Result<Cel, String> {
        let mut ctx = Context::with_env(Arc::clone(env));
        for (name, trie) in &expr.reads().roots {
            ctx.add_variable_from_value(name.as_str(), self.root(name, trie));
        }
        expr.program().execute(&ctx).map_err(|e| e.to_string())
    }

    /// Evaluates a condition: true only when it yields `true`; a condition
    /// that cannot be evaluated (a missing trait, say) counts as false.
    pub(crate) fn test(&self, env: &Arc<Env>, expr: &Expr) -> bool {
        matches!(self.eval(env, expr), Ok(Cel::Bool(true)))
    }
}

/// Converts only the parts of `value` that `trie` reads.
fn sparse(value: &Json<'_>, trie: &PathTrie) -> Cel {
    if trie.whole || trie.children.is_empty() || !value.is_object() {
        return value.to_cel();
    }
    let mut map = HashMap::with_capacity(trie.children.len());
    for (key, child) in &trie.children {
        if let (Some(v), Some(cel_key)) = (value.get(key), &child.key) {
            map.insert(cel_key.clone(), sparse(&v, child));
        }
    }
    Cel::Map(CelMap { map: Arc::new(map) })
}

#[cfg(test)]
mod tests {
    use super::*;
    use waymark_core::ProfileId;

    fn check(source: &str, expect: &str) {
        let event = Event::from_json_str(
            r#"{"type":"track","messageId":"m1","userId":"u1","event":"Cart Updated",
                "properties":{"total":49.99,"items":[{"sku":"A","price":30},{"sku":"B","price":19.99}],"coupon":null},
                "timestamp":"2026-10-01T08:00:00Z"}"#,
        )
        .unwrap();
        let mut profile = Profile::new(ProfileId::from("u1"));
        profile.traits.insert("vip".into(), Value::Bool(true));
        profile.traits.insert("country".into(), Value::from("DE"));
        profile.traits.insert("orders".into(), Value::from(3));
        let at = waymark_core::parse_timestamp("2026-09-01T00:00:00Z").unwrap();
        profile.events.insert(
            "Order Completed".into(),
            waymark_core::EventStats {
                count: 4,
                first_seen: at,
                last_seen: at,
            },
        );
        profile.revenue = 120.5;
        let trigger = Value::Null;
        let model = crate::predict::PurchaseModel {
            event: "Order Completed".into(),
            params: crate::predict::BgNbd {
                r: 0.243,
                alpha: 30.9,
                a: 0.793,
                b: 2.426,
            },
        };
        let now = waymark_core::parse_timestamp("2026-10-01T00:00:00Z").unwrap();
        let scope = Scope {
            profile: &profile,
            event: Some(&event),
            trigger: &trigger,
            journey: JourneyView {
                id: "cart",
                version: 2,
                node: "n1",
                entered_at: None,
                control: false,
            },
            predict: Some((&model, now)),
        };
        let env = Arc::new(Env::stdlib());
        let got = match scope.eval(&env, &Expr::compile(source).unwrap()) {
            Ok(v) => format!("{v:?}"),
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got.contains(expect),
            "{source}: got {got}, expected {expect}"
        );
    }

    #[test]
    fn conditions_see_profile_event_and_journey() {
        check("event.properties.total > 0", "Bool(true)");
        check("event.properties.total > 50", "Bool(false)");
        check(
            "event.event == 'Cart Updated' && event.type == 'track'",
            "Bool(true)",
        );
        check(
            "profile.traits.vip == true && profile.traits.country != 'US'",
            "Bool(true)",
        );
        check("profile.traits.orders >= 3", "Bool(true)");
        check(
            "event.properties.items.exists(i, i.price > 25)",
            "Bool(true)",
        );
        check("size(event.properties.items)", "Int(2)");
        check("has(profile.traits.first_name)", "Bool(false)");
        check("has(event.properties.coupon)", "Bool(true)");
        check("journey.id == 'cart' && journey.version == 2", "Bool(true)");
        check("event.receivedAt", "String(\"2026-10-01T08:00:00Z\")");
        check("profile.id", "String(\"u1\")");
        check(
            r#"profile.events["Order Completed"].count >= 3"#,
            "Bool(true)",
        );
        check(r#"has(profile.events.Login)"#, "Bool(false)");
        check("profile.revenue > 100.0", "Bool(true)");
        check("size(profile.engagement_hours) == 24", "Bool(true)");
        // Three repeat orders on one day, 30 days ago: odds of having
        // dropped out 0.793/4.426 × (60.9/30.9)^3.243 ≈ 1.62, P(alive) ≈ 0.38.
        check(
            "profile.predictions.p_alive > 0.37 && profile.predictions.p_alive < 0.39",
            "Bool(true)",
        );
        check(
            "profile.predictions.expected_orders_30d > 0.0",
            "Bool(true)",
        );
        check("has(profile.predictions)", "Bool(true)");
        check("event.properties.revenue", "error:");
        check("profile.traits.missing == true", "error:");
    }
}
