//! [`Annotation`]s: the warnings and infos a query returns next to its result, like
//! Prometheus' `warnings` and `infos` (`PromQL warning: ... (1:25)`).

use std::collections::HashSet;
use std::fmt;

use crate::error::Position;

/// Whether an annotation is a warning or an info.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum AnnotationKind {
    /// The result may be wrong or incomplete.
    Warning,
    /// The result is right but the query may not mean what it says.
    Info,
}

/// One annotation: its kind, Prometheus' message and where in the query it points.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Annotation {
    /// Warning or info.
    pub kind: AnnotationKind,
    /// The message without the `PromQL warning: ` prefix and the position.
    pub message: String,
    /// Where the expression it is about starts, when known.
    pub position: Option<Position>,
}

impl fmt::Display for Annotation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            AnnotationKind::Warning => "PromQL warning",
            AnnotationKind::Info => "PromQL info",
        };
        write!(f, "{kind}: {}", self.message)?;
        if let Some(p) = self.position {
            write!(f, " ({p})")?;
        }
        Ok(())
    }
}

/// The annotations of one query, without duplicates (by rendered text), in the order
/// they were raised.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Annotations {
    list: Vec<Annotation>,
    seen: HashSet<String>,
}

impl Annotations {
    /// Adds an annotation unless the same text is already there.
    pub fn add(&mut self, a: Annotation) {
        if self.seen.insert(a.to_string()) {
            self.list.push(a);
        }
    }

    /// Adds every annotation of `other`.
    pub fn merge(&mut self, other: Annotations) {
        for a in other.list {
            self.add(a);
        }
    }

    /// All annotations.
    pub fn iter(&self) -> impl Iterator<Item = &Annotation> {
        self.list.iter()
    }

    /// The warnings, rendered.
    pub fn warnings(&self) -> Vec<String> {
        self.rendered(AnnotationKind::Warning)
    }

    /// The infos, rendered.
    pub fn infos(&self) -> Vec<String> {
        self.rendered(AnnotationKind::Info)
    }

    fn rendered(&self, kind: AnnotationKind) -> Vec<String> {
        self.list
            .iter()
            .filter(|a| a.kind == kind)
            .map(ToString::to_string)
            .collect()
    }

    /// Whether there are none.
    pub fn is_empty(&self) -> bool {
        self.list.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_and_deduplicates() {
        let mut a = Annotations::default();
        let w = Annotation {
            kind: AnnotationKind::Warning,
            message: "sort is ineffective".to_owned(),
            position: Some(Position { line: 1, column: 5 }),
        };
        a.add(w.clone());
        a.add(w);
        assert_eq!(a.warnings(), ["PromQL warning: sort is ineffective (1:5)"]);
        assert!(a.infos().is_empty());
    }
}
