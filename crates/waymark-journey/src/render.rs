//! Liquid in templates: every string field of a template is a Liquid
//! template, parsed when the template is loaded (a syntax error refuses the
//! journey that uses it, naming file and field) and rendered at send time
//! with `profile`, `event`, `journey` and `unsubscribe_url` in scope.

use std::sync::{Arc, OnceLock};

use serde_json::{Map, Value};

use crate::liquid_view::Scope;

/// Why a template did not render.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("template `{template}`, field `{field}`: {message}")]
pub struct RenderError {
    pub template: String,
    pub field: String,
    pub message: String,
}

/// One string field, compiled.
#[derive(Clone)]
struct Part {
    /// Where the string sits, as object keys / array indexes from the top.
    path: Vec<Step>,
    template: Arc<liquid::Template>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    Key(String),
    Index(usize),
}

/// The compiled string fields of one template.
#[derive(Clone, Default)]
pub struct Compiled {
    parts: Vec<Part>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled")
            .field("parts", &self.parts.len())
            .finish()
    }
}

fn parser() -> &'static liquid::Parser {
    static PARSER: OnceLock<liquid::Parser> = OnceLock::new();
    PARSER.get_or_init(|| {
        liquid::ParserBuilder::with_stdlib()
            .build()
            .unwrap_or_else(|_| unreachable!("the standard library always builds"))
    })
}

fn field_name(path: &[Step]) -> String {
    let mut name = String::new();
    for step in path {
        match step {
            Step::Key(k) if name.is_empty() => name.push_str(k),
            Step::Key(k) => {
                name.push('.');
                name.push_str(k);
            }
            Step::Index(i) => name.push_str(&format!("[{i}]")),
        }
    }
    name
}

/// The value at `path` in `value`.
fn slot<'v>(value: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    let Some((first, rest)) = path.split_first() else {
        return Some(value);
    };
    let next = match first {
        Step::Key(k) => value.get_mut(k.as_str())?,
        Step::Index(i) => value.get_mut(*i)?,
    };
    slot(next, rest)
}

/// Liquid's messages span lines; one line reads better in a list of problems.
fn one_line(message: &str) -> String {
    message
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

impl Compiled {
    /// Parses every string in `fields` (except `channel`). Returns each
    /// syntax error as (field, message).
    pub fn compile(fields: &Map<String, Value>) -> Result<Self, Vec<(String, String)>> {
        let mut parts = Vec::new();
        let mut errors = Vec::new();
        let mut stack: Vec<(Vec<Step>, &Value)> = fields
            .iter()
            .filter(|(k, _)| k.as_str() != "channel")
            .map(|(k, v)| (vec![Step::Key(k.clone())], v))
            .collect();
        while let Some((path, value)) = stack.pop() {
            match value {
                Value::String(text) => match parser().parse(text) {
                    Ok(template) => parts.push(Part {
                        path,
                        template: Arc::new(template),
                    }),
                    Err(e) => errors.push((field_name(&path), one_line(&e.to_string()))),
                },
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        let mut p = path.clone();
                        p.push(Step::Index(i));
                        stack.push((p, item));
                    }
                }
                Value::Object(map) => {
                    for (k, item) in map {
                        let mut p = path.clone();
                        p.push(Step::Key(k.clone()));
                        stack.push((p, item));
                    }
                }
                _ => {}
            }
        }
        if errors.is_empty() {
            Ok(Compiled { parts })
        } else {
            errors.sort();
            Err(errors)
        }
    }

    /// Renders `fields` with `scope` (an object: `profile`, `event`,
    /// `journey`, `unsubscribe_url`, ...). `channel` stays as it is.
    pub fn render(
        &self,
        name: &str,
        fields: &Map<String, Value>,
        scope: &Value,
    ) -> Result<Map<String, Value>, RenderError> {
        let Value::Object(map) = scope else {
            return Err(RenderError {
                template: name.to_owned(),
                field: String::new(),
                message: "the scope is not an object".to_owned(),
            });
        };
        let scope = map
            .iter()
            .fold(Scope::new(), |scope, (key, value)| scope.json(key, value));
        self.render_scope(name, fields, &scope)
    }

    /// [`Compiled::render`] with a scope whose values are converted already.
    pub fn render_scope(
        &self,
        name: &str,
        fields: &Map<String, Value>,
        scope: &Scope<'_>,
    ) -> Result<Map<String, Value>, RenderError> {
        let globals: &dyn liquid::ObjectView = scope;
        let mut out = Value::Object(fields.clone());
        for part in &self.parts {
            let text = part.template.render(globals).map_err(|e| RenderError {
                template: name.to_owned(),
                field: field_name(&part.path),
                message: one_line(&e.to_string()),
            })?;
            if let Some(at) = slot(&mut out, &part.path) {
                *at = Value::String(text);
            }
        }
        match out {
            Value::Object(map) => Ok(map),
            _ => Ok(Map::new()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::liquid_view::SharedValue;
    use serde_json::json;

    #[test]
    fn a_profile_renders_as_its_json_does() {
        use waymark_core::{Profile, ProfileId, Timestamp};
        let Value::Object(fields) = json!({
            "subject": "{{ profile.traits.first_name | default: \"friend\" }}|{{ profile.traits.missing | default: \"none\" }}|{{ profile.traits.plan.tier }}|{{ profile.traits.age | plus: 1 }}",
            "text": "{{ profile.id }}|{{ profile.user_id }}|{{ profile.anonymous_id | default: \"anon\" }}|{{ profile.events[\"Signed Up\"].count }}|{{ profile.revenue }}|{{ profile.traits | size }}|{% if profile.user_id %}known{% endif %}",
        }) else {
            panic!("fields must be an object")
        };
        let compiled = Compiled::compile(&fields).unwrap();
        let mut profile = Profile {
            id: ProfileId::from("p_1"),
            user_id: Some("ana".to_owned()),
            revenue: 42.5,
            ..Profile::default()
        };
        let at = Timestamp::default();
        profile.set_trait("first_name", json!("Ana"), at);
        profile.set_trait("age", json!(30), at);
        profile.set_trait("plan", json!({"tier": "gold"}), at);
        profile.events.insert(
            "Signed Up".to_owned(),
            waymark_core::EventStats {
                count: 2,
                first_seen: at,
                last_seen: at,
            },
        );
        let as_json = json!({ "profile": serde_json::to_value(&profile).unwrap() });
        let from_json = compiled.render("t", &fields, &as_json).unwrap();
        let shared = SharedValue::profile(std::sync::Arc::new(profile));
        let scope = Scope::new().shared("profile", &shared);
        let in_place = compiled.render_scope("t", &fields, &scope).unwrap();
        assert_eq!(in_place, from_json);
        assert_eq!(in_place["subject"], "Ana|none|gold|31");
        assert_eq!(in_place["text"], "p_1|ana|anon|2|42.5|3|known");
    }

    #[test]
    fn a_shared_value_renders_as_the_json_it_was_made_from() {
        let Value::Object(fields) = json!({
            "channel": "email",
            "subject": "Hi {{ profile.traits.first_name | default: \"friend\" }} ({{ profile.tags | size }})",
            "text": "{% if profile.traits.vip %}vip{% endif %}{{ profile.traits.missing.deeper }}{{ journey.id }}{{ nothing.here }}",
        }) else {
            panic!("fields must be an object")
        };
        let compiled = Compiled::compile(&fields).unwrap();
        let profile = json!({"traits": {"first_name": "ana", "vip": true}, "tags": ["a", "b"]});
        let journey = json!({"id": "welcome"});
        let from_json = compiled
            .render(
                "t",
                &fields,
                &json!({"profile": profile, "journey": journey}),
            )
            .unwrap();
        let shared = SharedValue::from_json(&profile);
        let scope = Scope::new()
            .shared("profile", &shared)
            .json("journey", &journey);
        let from_scope = compiled.render_scope("t", &fields, &scope).unwrap();
        assert_eq!(from_json, from_scope);
        assert_eq!(from_scope["subject"], "Hi ana (2)");
        assert_eq!(from_scope["text"], "vipwelcome");
        // The same shared value serves another render unchanged.
        let again = Scope::new().shared("profile", &shared);
        let other = compiled.render_scope("t", &fields, &again).unwrap();
        assert_eq!(other["subject"], "Hi ana (2)");
        assert_eq!(other["text"], "vip");
    }

    fn render(fields: Value, scope: Value) -> Result<Map<String, Value>, String> {
        let Value::Object(fields) = fields else {
            panic!("fields must be an object")
        };
        let compiled = Compiled::compile(&fields).map_err(|e| format!("{e:?}"))?;
        compiled
            .render("t", &fields, &scope)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn renders_every_string_with_the_scope() {
        let out = render(
            json!({
                "channel": "webhook",
                "url": "https://example.com/{{ profile.id }}",
                "body": {"name": "{{ profile.traits.first_name | upcase }}", "tags": ["{{ journey.id }}", 3]},
            }),
            json!({"profile": {"id": "p1", "traits": {"first_name": "ana"}}, "journey": {"id": "welcome"}}),
        )
        .unwrap();
        assert_eq!(out["url"], "https://example.com/p1");
        assert_eq!(out["body"]["name"], "ANA");
        assert_eq!(out["body"]["tags"], json!(["welcome", 3]));
        assert_eq!(out["channel"], "webhook");
    }

    #[test]
    fn missing_values_read_as_nil_so_default_works() {
        let out = render(
            json!({"subject": "Hi {{ profile.traits.first_name | default: \"friend\" }}{{ profile.traits.address.city }}!"}),
            json!({"profile": {"traits": {}}}),
        )
        .unwrap();
        assert_eq!(out["subject"], "Hi friend!");
        let out = render(
            json!({"text": "{% if profile.traits.vip %}VIP{% else %}regular{% endif %} {{ event.properties.items.size }}"}),
            json!({"profile": {"traits": {"vip": false}}, "event": {"properties": {"items": [1, 2]}}}),
        )
        .unwrap();
        assert_eq!(out["text"], "regular 2");
    }

    #[test]
    fn syntax_errors_name_the_field() {
        let Value::Object(fields) =
            json!({"subject": "ok", "html": {"x": "{% if %}"}, "text": "{{ a | nosuchfilter }}"})
        else {
            unreachable!()
        };
        let errors = Compiled::compile(&fields).unwrap_err();
        let fields: Vec<&str> = errors.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["html.x", "text"]);
    }

    #[test]
    fn a_render_failure_is_an_error_not_a_panic() {
        let err = render(json!({"body": "{{ 1 | divided_by: 0 }}"}), json!({})).unwrap_err();
        assert!(err.contains("field `body`"), "{err}");
    }
}
