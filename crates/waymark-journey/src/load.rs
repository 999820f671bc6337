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
    #[error("{}", Invalid { path, problems })]
    Invalid {
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
    problems: &'a [Problem],
}

impl fmt::Display for Invalid<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let n = self.problems.len();
        write!(
            f,
            "{}: invalid journey, {n} problem{}:",
            self.path.display(),
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

/// Loads several journey files and the templates they use, reporting every
/// broken file, every missing template and every journey id used twice.
/// `templates` defaults to `templates/` beside the first journey.
pub fn load_journey_set(
    paths: &[PathBuf],
    templates: Option<&Path>,
) -> Result<(Vec<Journey>, crate::template::Templates), Errors> {
    let mut errors = Vec::new();
    let default_dir = paths
        .first()
        .and_then(|p| p.parent())
        .map(|d| d.join("templates"))
        .unwrap_or_default();
    let templates_dir = templates.unwrap_or(&default_dir);
    let catalog = match crate::template::Templates::load_dir(templates_dir) {
        Ok(c) => Some(c),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let mut journeys: Vec<Journey> = Vec::new();
    for path in paths {
        match load_journey(path) {
            Ok(journey) => {
                let mut problems = catalog
                    .as_ref()
                    .map(|c| c.check(&journey))
                    .unwrap_or_default();
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
    match catalog {
        Some(catalog) if errors.is_empty() => Ok((journeys, catalog)),
        _ => Err(Errors(errors)),
    }
}
