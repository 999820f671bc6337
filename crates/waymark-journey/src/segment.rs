//! Named segments: `segments/<id>.yaml`, a CEL condition over the profile
//! that journeys enter on, exit on, wait for and schedule to.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::Value;

use crate::expr::Expr;
use crate::load::{Error, Errors, parse_document};
use crate::model::Journey;
use crate::problem::Problem;

const SEGMENT_FIELDS: &[&str] = &["id", "name", "description", "where"];

/// A validated segment definition.
#[derive(Debug, Clone)]
pub struct Segment {
    pub id: Arc<str>,
    pub name: String,
    /// CEL over `profile` only.
    pub condition: Expr,
}

impl Segment {
    /// A segment from its id and condition (inline entries, tests).
    pub fn new(id: &str, condition: Expr) -> Self {
        Segment {
            id: Arc::from(id),
            name: id.to_owned(),
            condition,
        }
    }
}

/// The segments of a workspace, by id.
#[derive(Debug, Clone, Default)]
pub struct Segments {
    by_id: BTreeMap<Arc<str>, Segment>,
    /// Ids of segment files that did not load (already reported).
    broken: Vec<String>,
}

impl Segments {
    pub fn from_list(segments: impl IntoIterator<Item = Segment>) -> Self {
        Segments {
            by_id: segments.into_iter().map(|s| (s.id.clone(), s)).collect(),
            broken: Vec::new(),
        }
    }

    /// Loads every `.yaml`, `.yml` and `.json` file of `dir` (none: no
    /// segments), reporting every broken file at once.
    pub fn load_dir(dir: &Path) -> Result<Self, Errors> {
        let (segments, errors) = Self::load_dir_partly(dir);
        if errors.is_empty() {
            Ok(segments)
        } else {
            Err(Errors(errors))
        }
    }

    /// The segments of `dir` that load, and an error for every file that
    /// does not (its file name still counts as a known id, so journeys
    /// naming it are not reported twice).
    pub(crate) fn load_dir_partly(dir: &Path) -> (Self, Vec<Error>) {
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return (Segments::default(), Vec::new());
            }
            Err(source) => {
                let error = Error::Io {
                    path: dir.to_owned(),
                    source,
                };
                return (Segments::default(), vec![error]);
            }
        };
        let mut paths: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.extension()
                    .is_some_and(|e| e == "yaml" || e == "yml" || e == "json")
            })
            .collect();
        paths.sort();
        let mut errors = Vec::new();
        let mut segments = Segments::default();
        for path in paths {
            match load_segment(&path) {
                Ok(segment) => {
                    segments.by_id.insert(segment.id.clone(), segment);
                }
                Err(e) => {
                    if let Some(stem) = path.file_stem().and_then(|s| s.to_str()) {
                        segments.broken.push(stem.to_owned());
                    }
                    errors.push(e);
                }
            }
        }
        (segments, errors)
    }

    pub fn get(&self, id: &str) -> Option<&Segment> {
        self.by_id.get(id)
    }

    pub fn iter(&self) -> impl Iterator<Item = &Segment> {
        self.by_id.values()
    }

    pub fn len(&self) -> usize {
        self.by_id.len()
    }

    pub fn is_empty(&self) -> bool {
        self.by_id.is_empty()
    }

    /// A problem for every segment `journey` names that is not here.
    pub fn check(&self, journey: &Journey) -> Vec<Problem> {
        let known: Vec<&str> = self.by_id.keys().map(|k| &**k).collect();
        journey
            .segments_used()
            .into_iter()
            .filter(|(_, _, id)| {
                !self.by_id.contains_key(&***id) && !self.broken.iter().any(|b| b == &***id)
            })
            .map(|(node, field, id)| {
                let message = format!(
                    "unknown segment `{id}` (known: {})",
                    if known.is_empty() {
                        "none; segments live in segments/<id>.yaml".to_owned()
                    } else {
                        known.join(", ")
                    }
                );
                match node {
                    Some(node) => Problem::node(&node.id, field, message),
                    None => Problem::journey(field, message),
                }
            })
            .collect()
    }
}

/// Reads one segment file; its id must be its file name.
pub fn load_segment(path: &Path) -> Result<Segment, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    let doc = parse_document(path, &text)?;
    let stem = path.file_stem().and_then(|s| s.to_str()).unwrap_or("");
    decode_segment(&doc, Some(stem)).map_err(|problems| Error::InvalidSegment {
        path: path.to_owned(),
        problems,
    })
}

/// Decodes a segment document; `file_id` is the id its file name gives.
pub fn decode_segment(doc: &Value, file_id: Option<&str>) -> Result<Segment, Vec<Problem>> {
    let mut problems = Vec::new();
    let Some(obj) = doc.as_object() else {
        return Err(vec![Problem::journey(
            "",
            "a segment must be a mapping with id and where",
        )]);
    };
    for key in obj.keys() {
        if !SEGMENT_FIELDS.contains(&key.as_str()) {
            problems.push(Problem::journey(
                key.clone(),
                format!(
                    "unknown field (expected one of {})",
                    SEGMENT_FIELDS.join(", ")
                ),
            ));
        }
    }
    let id = match obj.get("id") {
        Some(Value::String(id)) if is_segment_id(id) => Some(id.clone()),
        Some(other) => {
            problems.push(Problem::journey(
                "id",
                format!("{other} is not a segment id (letters, digits, `_` and `-`)"),
            ));
            None
        }
        None => {
            problems.push(Problem::journey("id", "required"));
            None
        }
    };
    if let (Some(id), Some(file_id)) = (&id, file_id)
        && id != file_id
    {
        problems.push(Problem::journey(
            "id",
            format!("`{id}` differs from the file name `{file_id}`: a segment's file is <id>.yaml"),
        ));
    }
    let name = match obj.get("name") {
        Some(Value::String(s)) => Some(s.clone()),
        None => None,
        Some(other) => {
            problems.push(Problem::journey(
                "name",
                format!("must be a string, found {other}"),
            ));
            None
        }
    };
    let condition = match obj.get("where") {
        Some(Value::String(source)) => match profile_condition(source) {
            Ok(expr) => Some(expr),
            Err(message) => {
                problems.push(Problem::journey("where", message));
                None
            }
        },
        Some(other) => {
            problems.push(Problem::journey(
                "where",
                format!("must be a CEL expression string, found {other}"),
            ));
            None
        }
        None => {
            problems.push(Problem::journey(
                "where",
                "required: a CEL condition over the profile",
            ));
            None
        }
    };
    match (id, condition) {
        (Some(id), Some(condition)) if problems.is_empty() => Ok(Segment {
            name: name.unwrap_or_else(|| id.clone()),
            id: Arc::from(id),
            condition,
        }),
        _ => Err(problems),
    }
}

/// Compiles a segment condition: CEL that reads `profile` and nothing else
/// (membership must not depend on which event happened to arrive).
pub(crate) fn profile_condition(source: &str) -> Result<Expr, String> {
    let expr = Expr::compile(source).map_err(|e| format!("CEL does not compile: {e}"))?;
    let others: Vec<&str> = expr
        .reads()
        .roots
        .keys()
        .map(String::as_str)
        .filter(|r| *r != "profile")
        .collect();
    let reads_segments = expr
        .reads()
        .roots
        .get("profile")
        .is_some_and(|p| p.whole || p.children.contains_key("segments"));
    if reads_segments {
        return Err("a segment cannot read `profile.segments` (or the whole profile): membership would depend on the order segments are evaluated in".to_owned());
    }
    if others.is_empty() {
        Ok(expr)
    } else {
        Err(format!(
            "a segment is over the profile only, but this reads `{}`",
            others.join("`, `")
        ))
    }
}

/// Letters, digits, `_` and `-`: what a segment file name can be.
pub(crate) fn is_segment_id(text: &str) -> bool {
    !text.is_empty()
        && text
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(yaml: &str, file: &str) -> String {
        let doc: Value = serde_norway::from_str(yaml).unwrap();
        match decode_segment(&doc, Some(file)) {
            Ok(s) => format!("ok {}", s.id),
            Err(p) => p
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n"),
        }
    }

    #[test]
    fn a_segment_is_a_profile_condition_named_like_its_file() {
        let ok = "id: vip\nname: VIPs\nwhere: 'profile.revenue >= 1000.0'\n";
        assert_eq!(problems(ok, "vip"), "ok vip");
        let bad = "id: vips\nwhere: 'event.properties.x > 1 &&'\ncolor: red\n";
        let got = problems(bad, "vip");
        assert!(got.contains("field `color`: unknown field"), "{got}");
        assert!(
            got.contains("`vips` differs from the file name `vip`"),
            "{got}"
        );
        assert!(got.contains("field `where`: CEL does not compile"), "{got}");
        let event = "id: vip\nwhere: 'event.properties.x > 1'\n";
        assert!(problems(event, "vip").contains("over the profile only"));
        let nested = "id: vip\nwhere: '\"big\" in profile.segments'\n";
        assert!(problems(nested, "vip").contains("cannot read `profile.segments`"));
    }
}
