//! One thing wrong with a journey definition, located by node and field.

use std::fmt;

/// A validation problem. A journey is refused with every problem found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The node at fault, when the problem is inside a node.
    pub node: Option<String>,
    /// The field at fault (`entry.where`, `duration`, `branches[1].when`, ...).
    pub field: String,
    pub message: String,
}

impl Problem {
    pub fn journey(field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            node: None,
            field: field.into(),
            message: message.into(),
        }
    }

    pub fn node(node: &str, field: impl Into<String>, message: impl Into<String>) -> Self {
        Problem {
            node: Some(node.to_owned()),
            field: field.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(node) = &self.node {
            write!(f, "node `{node}`: ")?;
        }
        if !self.field.is_empty() {
            write!(f, "field `{}`: ", self.field)?;
        }
        f.write_str(&self.message)
    }
}
