//! CEL expressions, compiled once when a journey is loaded.
//!
//! Besides the program, an [`Expr`] knows which parts of `profile`, `event`
//! and `journey` it reads ([`Reads`]), so that the engine converts only those
//! into CEL values instead of whole events and profiles.

use std::collections::BTreeMap;
use std::fmt;
use std::sync::Arc;

use cel::Program;
use cel::common::ast::{Expr as Ast, IdedExpr, LiteralValue, operators};
use cel::objects::Key;

/// The variables a condition may use.
pub const VARIABLES: [&str; 3] = ["profile", "event", "journey"];

/// A compiled CEL expression with the paths it reads.
#[derive(Clone)]
pub struct Expr {
    source: String,
    program: Arc<Program>,
    reads: Reads,
}

/// The access paths an expression reads, per root variable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reads {
    pub roots: BTreeMap<String, PathTrie>,
}

/// A tree of member names below a variable. `whole` means the value at this
/// point is used as a whole (compared, iterated, indexed by a computed key).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PathTrie {
    pub whole: bool,
    pub children: BTreeMap<String, PathTrie>,
    /// This member's name as a CEL map key, built once at compile time so
    /// that evaluations do not allocate it (empty for a root).
    pub key: Option<Key>,
}

impl PathTrie {
    /// Adds everything `other` reads to what this trie reads.
    pub fn merge(&mut self, other: &PathTrie) {
        self.whole |= other.whole;
        for (name, child) in &other.children {
            match self.children.get_mut(name) {
                Some(mine) => mine.merge(child),
                None => {
                    self.children.insert(name.clone(), child.clone());
                }
            }
        }
    }

    fn insert(&mut self, path: &[String]) {
        match path.split_first() {
            None => self.whole = true,
            Some((head, rest)) => {
                let child = self
                    .children
                    .entry(head.clone())
                    .or_insert_with(|| PathTrie {
                        key: Some(Key::String(Arc::new(head.clone()))),
                        ..PathTrie::default()
                    });
                child.insert(rest);
            }
        }
    }
}

impl Expr {
    /// Compiles `source`; the error lists every syntax problem and every
    /// unknown variable.
    pub fn compile(source: &str) -> Result<Self, String> {
        let program = Program::compile(source).map_err(|e| {
            e.errors
                .iter()
                .map(|e| format!("column {}: {}", e.pos.1 + 1, e.msg))
                .collect::<Vec<_>>()
                .join("; ")
        })?;
        let mut collector = Collector::default();
        collector.walk(program.expression());
        if !collector.unknown.is_empty() {
            let names: Vec<_> = collector.unknown.iter().map(|n| format!("`{n}`")).collect();
            return Err(format!(
                "unknown variable {} (in scope: profile, event, journey)",
                names.join(", ")
            ));
        }
        Ok(Expr {
            source: source.to_owned(),
            program: Arc::new(program),
            reads: collector.reads,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn program(&self) -> &Program {
        &self.program
    }

    pub fn reads(&self) -> &Reads {
        &self.reads
    }
}

impl fmt::Debug for Expr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Expr").field(&self.source).finish()
    }
}

impl PartialEq for Expr {
    fn eq(&self, other: &Self) -> bool {
        self.source == other.source
    }
}

#[derive(Default)]
struct Collector {
    reads: Reads,
    bound: Vec<String>,
    unknown: std::collections::BTreeSet<String>,
}

impl Collector {
    fn walk(&mut self, node: &IdedExpr) {
        if let Some((root, path)) = access_chain(&node.expr) {
            self.record(root, &path);
            return;
        }
        match &node.expr {
            Ast::Call(call) => {
                if let Some(target) = &call.target {
                    self.walk(target);
                }
                for arg in &call.args {
                    self.walk(arg);
                }
            }
            Ast::Comprehension(c) => {
                self.walk(&c.iter_range);
                self.walk(&c.accu_init);
                self.bound.push(c.iter_var.clone());
                self.bound.extend(c.iter_var2.clone());
                self.bound.push(c.accu_var.clone());
                self.walk(&c.loop_cond);
                self.walk(&c.loop_step);
                self.walk(&c.result);
                self.bound
                    .truncate(self.bound.len() - 2 - usize::from(c.iter_var2.is_some()));
            }
            Ast::List(list) => list.elements.iter().for_each(|e| self.walk(e)),
            Ast::Map(map) => {
                for entry in &map.entries {
                    if let cel::common::ast::EntryExpr::MapEntry(e) = &entry.expr {
                        self.walk(&e.key);
                        self.walk(&e.value);
                    }
                }
            }
            Ast::Struct(s) => {
                for entry in &s.entries {
                    if let cel::common::ast::EntryExpr::StructField(f) = &entry.expr {
                        self.walk(&f.value);
                    }
                }
            }
            Ast::Select(select) => self.walk(&select.operand),
            Ast::Ident(_) | Ast::Literal(_) | Ast::Unspecified => {}
        }
    }

    fn record(&mut self, root: &str, path: &[String]) {
        if self.bound.iter().any(|b| b == root) {
            return;
        }
        if VARIABLES.contains(&root) {
            self.reads
                .roots
                .entry(root.to_owned())
                .or_default()
                .insert(path);
        } else {
            self.unknown.insert(root.to_owned());
        }
    }
}

/// `a.b["c"].d` as (`a`, [b, c, d]); `None` for anything else.
fn access_chain(expr: &Ast) -> Option<(&str, Vec<String>)> {
    match expr {
        Ast::Ident(name) => Some((name.as_str(), Vec::new())),
        Ast::Select(select) => {
            let (root, mut path) = access_chain(&select.operand.expr)?;
            path.push(select.field.clone());
            Some((root, path))
        }
        Ast::Call(call) if call.func_name == operators::INDEX && call.args.len() == 2 => {
            let Ast::Literal(LiteralValue::String(key)) = &call.args[1].expr else {
                return None;
            };
            let (root, mut path) = access_chain(&call.args[0].expr)?;
            path.push(key.inner().to_owned());
            Some((root, path))
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Compiles `source` and renders what it reads as `root.a.b` paths
    /// (`*` marks a whole value), or the error.
    fn check(source: &str, expect: &str) {
        let got = match Expr::compile(source) {
            Ok(expr) => {
                let mut out = Vec::new();
                for (root, trie) in &expr.reads().roots {
                    render(root, trie, &mut out);
                }
                out.join(" ")
            }
            Err(e) => format!("error: {e}"),
        };
        assert!(
            got.contains(expect),
            "{source}: got {got:?}, expected {expect:?}"
        );
    }

    fn render(prefix: &str, trie: &PathTrie, out: &mut Vec<String>) {
        if trie.whole {
            out.push(format!("{prefix}*"));
        }
        for (k, child) in &trie.children {
            render(&format!("{prefix}.{k}"), child, out);
        }
    }

    #[test]
    fn records_the_paths_an_expression_reads() {
        check("event.properties.total > 0", "event.properties.total*");
        check(
            r#"profile.events["Order Completed"].count > 2"#,
            "profile.events.Order Completed.count*",
        );
        check("has(profile.traits.vip)", "profile.traits.vip*");
        check(
            "event.properties.items.exists(i, i.price > 10)",
            "event.properties.items*",
        );
        check(
            "size(event.properties.items) > 1 && profile.traits.vip",
            "event.properties.items* profile.traits.vip*",
        );
        check(
            "event.properties[profile.traits.key] == 1",
            "event.properties* profile.traits.key*",
        );
        check("event == null", "event*");
    }

    #[test]
    fn refuses_syntax_errors_and_unknown_variables() {
        check("event.properties.total >", "error: column");
        check(
            "evnt.properties.total > 0",
            "error: unknown variable `evnt`",
        );
        check("[1, 2].all(x, x > 0)", "");
    }
}
