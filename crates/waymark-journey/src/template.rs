//! Message templates referenced by `send` nodes: one file per template,
//! `templates/<name>.yaml`, or `<name>.<channel>.yaml` for a channel-specific
//! variant of a template used on several channels.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::{Map, Value};
use waymark_core::Channel;

use crate::liquid_view::Scope;
use crate::load::{Error, parse_document};
use crate::model::{Journey, NodeKind};
use crate::problem::Problem;
use crate::render::{Compiled, RenderError};

/// One template file: its channel and its fields (subject, text, html,
/// body, ...), each string a Liquid template.
#[derive(Debug, Clone)]
pub struct Template {
    pub name: String,
    pub channel: Channel,
    pub fields: Map<String, Value>,
    pub path: PathBuf,
    compiled: Compiled,
}

impl PartialEq for Template {
    fn eq(&self, other: &Self) -> bool {
        (&self.name, self.channel, &self.fields, &self.path)
            == (&other.name, other.channel, &other.fields, &other.path)
    }
}

impl Template {
    /// The fields rendered with `scope` (`profile`, `event`, `journey`,
    /// `unsubscribe_url`, ...); a missing value reads as `nil`.
    pub fn render(&self, scope: &Value) -> Result<Map<String, Value>, RenderError> {
        self.compiled.render(&self.name, &self.fields, scope)
    }

    /// [`Template::render`] with a [`Scope`] whose values are converted
    /// already (a person's profile shared by their deliveries).
    pub fn render_scope(&self, scope: &Scope<'_>) -> Result<Map<String, Value>, RenderError> {
        self.compiled.render_scope(&self.name, &self.fields, scope)
    }
}

/// The fields each channel needs.
fn required_fields(channel: Channel) -> &'static [&'static [&'static str]] {
    match channel {
        Channel::Email => &[&["subject"], &["text", "html"]],
        Channel::Sms | Channel::Whatsapp => &[&["body"]],
        Channel::Push => &[&["title", "body"]],
        Channel::Webhook => &[&["url"]],
    }
}

/// Every template found in a folder.
#[derive(Debug, Clone, Default)]
pub struct Templates {
    dir: PathBuf,
    by_file_stem: BTreeMap<String, Template>,
}

impl Templates {
    /// Reads every `*.yaml`, `*.yml` and `*.json` file of `dir`. A missing
    /// folder holds no templates; a broken file is an error naming it.
    pub fn load_dir(dir: &Path) -> Result<Self, Error> {
        let mut templates = Templates {
            dir: dir.to_owned(),
            by_file_stem: BTreeMap::new(),
        };
        let entries = match std::fs::read_dir(dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(templates),
            Err(source) => {
                return Err(Error::Io {
                    path: dir.to_owned(),
                    source,
                });
            }
        };
        let mut paths: Vec<PathBuf> = entries.filter_map(|e| e.ok().map(|e| e.path())).collect();
        paths.sort();
        for path in paths {
            let is_template = path
                .extension()
                .is_some_and(|e| e == "yaml" || e == "yml" || e == "json");
            let Some(stem) = path.file_stem().and_then(|s| s.to_str()).map(str::to_owned) else {
                continue;
            };
            if !is_template {
                continue;
            }
            let text = std::fs::read_to_string(&path).map_err(|source| Error::Io {
                path: path.clone(),
                source,
            })?;
            let template = parse_template(&path, &stem, &text)?;
            templates.by_file_stem.insert(stem, template);
        }
        Ok(templates)
    }

    /// The template a send uses on `channel`: `<name>.<channel>` if present,
    /// else `<name>` when it is written for that channel.
    pub fn resolve(&self, name: &str, channel: Channel) -> Option<&Template> {
        self.by_file_stem
            .get(&format!("{name}.{channel}"))
            .or_else(|| self.by_file_stem.get(name).filter(|t| t.channel == channel))
    }

    /// Template `name`: its `channel` variant, or the one file of that
    /// name whatever its channel.
    pub fn find(&self, name: &str, channel: Option<Channel>) -> Option<&Template> {
        match channel {
            Some(channel) => self.resolve(name, channel),
            None => self.by_file_stem.get(name).or_else(|| {
                self.by_file_stem
                    .iter()
                    .find(|(stem, _)| stem.split('.').next() == Some(name))
                    .map(|(_, t)| t)
            }),
        }
    }

    /// Problems with the templates `journey` uses: missing files, or files for another channel.
    pub fn check(&self, journey: &Journey) -> Vec<Problem> {
        let mut problems = Vec::new();
        for node in &journey.nodes {
            let NodeKind::Send {
                channels, template, ..
            } = &node.kind
            else {
                continue;
            };
            for channel in channels {
                if self.resolve(template, *channel).is_some() {
                    continue;
                }
                let message = match self.by_file_stem.get(&**template) {
                    Some(t) => format!(
                        "template `{template}` is written for {} (in {}), not {channel}; add {}",
                        t.channel,
                        t.path.display(),
                        self.dir
                            .join(format!("{template}.{channel}.yaml"))
                            .display()
                    ),
                    None => format!(
                        "template `{template}` not found for {channel}: no {} in {}",
                        format_args!("{template}.yaml"),
                        self.dir.display()
                    ),
                };
                problems.push(Problem::node(&node.id, "template", message));
            }
        }
        problems
    }
}

fn parse_template(path: &Path, stem: &str, text: &str) -> Result<Template, Error> {
    let invalid = |field: &str, message: String| Error::Invalid {
        path: path.to_owned(),
        problems: vec![Problem::journey(field, message)],
    };
    let doc = parse_document(path, text)?;
    let Value::Object(fields) = doc else {
        return Err(invalid(
            "",
            "a template must be a mapping with `channel` and its fields".to_owned(),
        ));
    };
    let channel = match fields.get("channel").and_then(Value::as_str) {
        Some(c) => c.parse::<Channel>().map_err(|e| invalid("channel", e))?,
        None => {
            return Err(invalid(
                "channel",
                "required (email, sms, whatsapp, push or webhook)".to_owned(),
            ));
        }
    };
    for any_of in required_fields(channel) {
        if !any_of
            .iter()
            .any(|f| fields.get(*f).is_some_and(|v| !v.is_null()))
        {
            return Err(invalid(
                any_of[0],
                format!(
                    "required for a {channel} template (one of {})",
                    any_of.join(", ")
                ),
            ));
        }
    }
    let compiled = Compiled::compile(&fields).map_err(|errors| Error::Invalid {
        path: path.to_owned(),
        problems: errors
            .into_iter()
            .map(|(field, message)| Problem::journey(field, format!("Liquid: {message}")))
            .collect(),
    })?;
    let name = stem.split('.').next().unwrap_or(stem).to_owned();
    Ok(Template {
        name,
        channel,
        fields,
        path: path.to_owned(),
        compiled,
    })
}
