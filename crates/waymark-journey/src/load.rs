//! Reading journey files (YAML or JSON) from disk.

use std::fmt;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::decode::decode;
use crate::model::Journey;
use crate::problem::Problem;

/// Why a journey file could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{}: cannot read: {source}", path.display())]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}:{line}:{column}: not valid {format}: {message}", path.display())]
    Syntax {
        path: PathBuf,
        format: &'static str,
        line: usize,
        column: usize,
        message: String,
    },
    #[error("{}", Invalid { path, what: "journey", problems })]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
    #[error("{}", Invalid { path, what: "segment", problems })]
    InvalidSegment {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

/// Every problem found loading a set of journey files, one per line.
#[derive(Debug, Default)]
pub struct Errors(pub Vec<Error>);

impl fmt::Display for Errors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, error) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Errors {}

impl From<Error> for Errors {
    fn from(error: Error) -> Self {
        Errors(vec![error])
    }
}

impl std::ops::Deref for Errors {
    type Target = [Error];

    fn deref(&self) -> &[Error] {
        &self.0
    }
}

struct Invalid<'a> {
    path: &'a Path,
    what: &'static str,
    problems: &'a [Problem],
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: invalid {}, {n} problem{}:",
            self.path.display(),
            self.what,
            if n == 1 { "" } else { "s" }
        )?;
        for p in self.problems {
            write!(f, "\n  - {p}")?;
        }
        Ok(())
    }
}

/// Reads and validates one journey file; `.json` files are JSON, anything
/// else YAML.
pub fn load_journey(path: &Path) -> Result<Journey, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })?;
    parse_journey(path, &text)
}

/// Parses and validates journey text; `path` names it in errors and picks the format.
pub fn parse_journey(path: &Path, text: &str) -> Result<Journey, Error> {
    let doc = parse_document(path, text)?;
    decode(&doc).map_err(|problems| Error::Invalid {
        path: path.to_owned(),
        problems,
    })
}

/// Parses a YAML or JSON document into a JSON value, with the line of any
/// syntax error.
pub fn parse_document(path: &Path, text: &str) -> Result<Value, Error> {
    if path.extension().is_some_and(|e| e == "json") {
        serde_json::from_str(text).map_err(|e| Error::Syntax {
            path: path.to_owned(),
            format: "JSON",
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    } else {
        serde_norway::from_str(text).map_err(|e| {
            let (line, column) = e.location().map_or((0, 0), |l| (l.line(), l.column()));
            Error::Syntax {
                path: path.to_owned(),
                format: "YAML",
                line,
                column,
                message: e.to_string(),
            }
        })
    }
}

/// Journeys with the templates and segments they use.
#[derive(Debug, Default)]
pub struct JourneySet {
    pub journeys: Vec<Journey>,
    pub templates: crate::template::Templates,
    pub segments: crate::segment::Segments,
}

/// Loads several journey files and the templates they use: see
/// [`load_workspace`], with segments from `segments/` beside the first journey.
pub fn load_journey_set(
    paths: &[PathBuf],
    templates: Option<&Path>,
) -> Result<(Vec<Journey>, crate::template::Templates), Errors> {
    load_workspace(paths, templates, None).map(|set| (set.journeys, set.templates))
}

/// Loads several journey files, the templates and the segments they use,
/// reporting every broken file (segment files included), every missing
/// template or segment and every journey id used twice. `templates` and
/// `segments` default to `templates/` and `segments/` beside the first journey.
pub fn load_workspace(
    paths: &[PathBuf],
    templates: Option<&Path>,
    segments: Option<&Path>,
) -> Result<JourneySet, Errors> {
    let mut errors = Vec::new();
    let beside = |name: &str| {
        paths
            .first()
            .and_then(|p| p.parent())
            .map(|d| d.join(name))
            .unwrap_or_default()
    };
    let (default_templates, default_segments) = (beside("templates"), beside("segments"));
    let catalog =
        match crate::template::Templates::load_dir(templates.unwrap_or(&default_templates)) {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e);
                None
            }
        };
    let (segment_set, segment_errors) =
        crate::segment::Segments::load_dir_partly(segments.unwrap_or(&default_segments));
    errors.extend(segment_errors);
    let segment_set = Some(segment_set);
    let mut journeys: Vec<Journey> = Vec::new();
    for path in paths {
        match load_journey(path) {
            Ok(journey) => {
                let mut problems = catalog
                    .as_ref()
                    .map(|c| c.check(&journey))
                    .unwrap_or_default();
                if let Some(s) = &segment_set {
                    problems.extend(s.check(&journey));
                }
                if journeys.iter().any(|j| j.id == journey.id) {
                    problems.push(Problem::journey(
                        "id",
                        format!("journey id `{}` is used by another file", journey.id),
                    ));
                }
                if problems.is_empty() {
                    journeys.push(journey);
                } else {
                    errors.push(Error::Invalid {
                        path: path.clone(),
                        problems,
                    });
                }
            }
            Err(e) => errors.push(e),
        }
    }
    match (catalog, segment_set) {
        (Some(templates), Some(segments)) if errors.is_empty() => Ok(JourneySet {
            journeys,
            templates,
            segments,
        }),
        _ => Err(Errors(errors)),
    }
}
