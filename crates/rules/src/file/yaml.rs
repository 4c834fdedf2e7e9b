//! The first YAML document of a rule file as a small tree of nodes that keep their
//! line, built from `saphyr-parser`'s event stream.
//!
//! Why a tree of our own: Prometheus decodes rule files with Go's yaml.v3, which keeps
//! the position of every node and rejects a mapping key given twice. A generic YAML
//! value type loses both, so the decoder works on this tree instead. Like yaml.v3's
//! `Unmarshal`, only the first document of a stream is read; later ones are ignored.
//! Aliases are expanded (a copy of the anchored node), with a cap on the nodes an
//! expansion may create so that a "billion laughs" file is an error, not an
//! out-of-memory.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

use super::FileError;

/// The most nodes one file may expand to (aliases included).
const MAX_NODES: usize = 1_000_000;

/// A YAML node with the 1-based line it starts on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Node {
    /// What the node holds.
    pub(crate) kind: NodeKind,
    /// 1-based line of the node's first character.
    pub(crate) line: usize,
}

/// The three kinds of YAML node.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum NodeKind {
    /// A scalar, as written (after YAML unescaping). `plain` is false for quoted and
    /// block scalars, which are never null.
    Scalar {
        /// The scalar's text.
        text: String,
        /// Written without quotes or block indicator.
        plain: bool,
    },
    /// A sequence.
    Seq(Vec<Node>),
    /// A mapping, keys in file order.
    Map(Vec<(Node, Node)>),
}

impl Node {
    /// Whether the node is YAML's null (`~`, `null`, or nothing at all).
    pub(crate) fn is_null(&self) -> bool {
        matches!(&self.kind, NodeKind::Scalar { text, plain: true }
            if matches!(text.as_str(), "" | "~" | "null" | "Null" | "NULL"))
    }

    /// What kind of node this is, in words, for messages.
    pub(crate) fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } if self.is_null() => "null",
            NodeKind::Scalar { .. } => "a scalar",
            NodeKind::Seq(_) => "a sequence",
            NodeKind::Map(_) => "a mapping",
        }
    }
}

/// What reading the first document gave: its root (`None` for an empty stream) and
/// the duplicate keys found, which are errors but do not stop decoding.
#[derive(Debug, Default)]
pub(crate) struct Document {
    /// The root node, if the stream has a document.
    pub(crate) root: Option<Node>,
    /// Problems that leave the tree usable (duplicate keys).
    pub(crate) errors: Vec<FileError>,
}

/// A node being built: a sequence or a mapping still open, with its pending key.
enum Open {
    Seq {
        line: usize,
        anchor: usize,
        items: Vec<Node>,
    },
    Map {
        line: usize,
        anchor: usize,
        entries: Vec<(Node, Node)>,
        key: Option<Node>,
    },
}

/// Reads the first YAML document of `text`. A syntax error is returned alone: after
/// it the tree cannot be trusted.
pub(crate) fn read_first_document(text: &str) -> Result<Document, FileError> {
    let mut builder = Builder::default();
    let mut parser = Parser::new_from_str(text);
    while let Some(event) = parser.next_event() {
        let (event, span) = event.map_err(|e| FileError {
            line: e.marker().line().max(1),
            message: format!("YAML syntax error: {}", e.info()),
        })?;
        if builder.push(event, span)? {
            break;
        }
    }
    Ok(Document {
        root: builder.root,
        errors: builder.errors,
    })
}

#[derive(Default)]
struct Builder {
    stack: Vec<Open>,
    anchors: HashMap<usize, Node>,
    root: Option<Node>,
    errors: Vec<FileError>,
    nodes: usize,
    in_document: bool,
}

impl Builder {
    /// Takes one event; returns true once the first document is complete.
    fn push(&mut self, event: Event<'_>, span: Span) -> Result<bool, FileError> {
        let line = span.start.line().max(1);
        match event {
            Event::DocumentStart(_) => self.in_document = true,
            Event::DocumentEnd => return Ok(self.in_document),
            Event::StreamEnd => return Ok(true),
            Event::Nothing | Event::StreamStart => {}
            Event::Scalar(text, style, anchor, _tag) => {
                let node = Node {
                    kind: NodeKind::Scalar {
                        text: text.into_owned(),
                        plain: style == ScalarStyle::Plain,
                    },
                    line,
                };
                self.remember(anchor, &node);
                self.add(node)?;
            }
            Event::Alias(id) => {
                let node = self.anchors.get(&id).cloned().ok_or_else(|| FileError {
                    line,
                    message: "YAML: unknown anchor referenced by an alias".to_owned(),
                })?;
                self.count(size(&node), line)?;
                self.add(node)?;
            }
            Event::SequenceStart(anchor, _tag) => self.stack.push(Open::Seq {
                line,
                anchor,
                items: Vec::new(),
            }),
            Event::MappingStart(anchor, _tag) => self.stack.push(Open::Map {
                line,
                anchor,
                entries: Vec::new(),
                key: None,
            }),
            Event::SequenceEnd | Event::MappingEnd => {
                let (node, anchor) = match self.stack.pop() {
                    Some(Open::Seq {
                        line,
                        anchor,
                        items,
                    }) => (
                        Node {
                            kind: NodeKind::Seq(items),
                            line,
                        },
                        anchor,
                    ),
                    Some(Open::Map {
                        line,
                        anchor,
                        entries,
                        ..
                    }) => (
                        Node {
                            kind: NodeKind::Map(merge_keys(entries)),
                            line,
                        },
                        anchor,
                    ),
                    None => return Ok(false),
                };
                self.remember(anchor, &node);
                self.add(node)?;
            }
        }
        Ok(false)
    }

    fn remember(&mut self, anchor: usize, node: &Node) {
        if anchor != 0 {
            self.anchors.insert(anchor, node.clone());
        }
    }

    fn count(&mut self, n: usize, line: usize) -> Result<(), FileError> {
        self.nodes = self.nodes.saturating_add(n);
        if self.nodes > MAX_NODES {
            return Err(FileError {
                line,
                message: format!("YAML: the document expands to more than {MAX_NODES} nodes"),
            });
        }
        Ok(())
    }

    /// Adds a finished node to whatever is open, or makes it the root.
    fn add(&mut self, node: Node) -> Result<(), FileError> {
        self.count(1, node.line)?;
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Open::Seq { items, .. }) => items.push(node),
            Some(Open::Map { entries, key, .. }) => match key.take() {
                None => *key = Some(node),
                Some(k) => {
                    if let NodeKind::Scalar { text, .. } = &k.kind {
                        let earlier = entries.iter().find(|(e, _)| {
                            matches!(&e.kind, NodeKind::Scalar { text: t, .. } if t == text)
                        });
                        if let Some((e, _)) = earlier {
                            self.errors.push(FileError {
                                line: k.line,
                                message: format!(
                                    "mapping key {text:?} already defined at line {}",
                                    e.line
                                ),
                            });
                        }
                    }
                    entries.push((k, node));
                }
            },
        }
        Ok(())
    }
}

/// Applies YAML merge keys (`<<: *anchor` or `<<: [*a, *b]`), as yaml.v3 does: the
/// merged mappings' entries are added unless the mapping sets the key itself (or an
/// earlier merged mapping did).
fn merge_keys(entries: Vec<(Node, Node)>) -> Vec<(Node, Node)> {
    let is_merge =
        |k: &Node| matches!(&k.kind, NodeKind::Scalar { text, plain: true } if text == "<<");
    if !entries.iter().any(|(k, _)| is_merge(k)) {
        return entries;
    }
    let (merges, mut own): (Vec<_>, Vec<_>) = entries.into_iter().partition(|(k, _)| is_merge(k));
    for (key, value) in merges {
        let sources: Vec<Node> = match value.kind {
            NodeKind::Map(_) => vec![value],
            NodeKind::Seq(items) => items,
            // Not a mapping: kept as an ordinary key, for the decoder to refuse.
            _ => {
                own.push((key, value));
                continue;
            }
        };
        for source in sources {
            let NodeKind::Map(merged) = source.kind else {
                continue;
            };
            for (k, v) in merged {
                let taken = own.iter().any(|(o, _)| same_key(o, &k));
                if !taken {
                    own.push((k, v));
                }
            }
        }
    }
    own
}

fn same_key(a: &Node, b: &Node) -> bool {
    matches!((&a.kind, &b.kind), (NodeKind::Scalar { text: x, .. }, NodeKind::Scalar { text: y, .. }) if x == y)
}

/// How many nodes `node` holds, itself included.
fn size(node: &Node) -> usize {
    match &node.kind {
        NodeKind::Scalar { .. } => 1,
        NodeKind::Seq(items) => 1 + items.iter().map(size).sum::<usize>(),
        NodeKind::Map(entries) => {
            1 + entries
                .iter()
                .map(|(k, v)| size(k) + size(v))
                .sum::<usize>()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn root(text: &str) -> Node {
        read_first_document(text).unwrap().root.unwrap()
    }

    #[test]
    fn nodes_keep_their_lines() {
        let node = root("a: 1\nb:\n  - x\n  - y: z\n");
        let NodeKind::Map(entries) = node.kind else {
            panic!("not a map")
        };
        assert_eq!(entries[0].0.line, 1);
        assert_eq!(entries[1].0.line, 2);
        let NodeKind::Seq(items) = &entries[1].1.kind else {
            panic!("not a seq")
        };
        assert_eq!(items[0].line, 3);
        assert_eq!(items[1].line, 4);
    }

    #[test]
    fn null_forms() {
        for text in ["a:", "a: ~", "a: null"] {
            let NodeKind::Map(entries) = root(text).kind else {
                panic!()
            };
            assert!(entries[0].1.is_null(), "{text}");
        }
        let NodeKind::Map(entries) = root("a: 'null'").kind else {
            panic!()
        };
        assert!(!entries[0].1.is_null());
    }

    #[test]
    fn only_the_first_document_is_read() {
        let node = root("a: 1\n---\nb: [\n");
        assert!(matches!(node.kind, NodeKind::Map(ref e) if e.len() == 1));
    }

    #[test]
    fn empty_streams_have_no_root() {
        for text in ["", "# just a comment\n", "\n\n"] {
            assert_eq!(read_first_document(text).unwrap().root, None);
        }
    }

    #[test]
    fn duplicate_keys_are_errors_with_both_lines() {
        let doc = read_first_document("a: 1\nb: 2\na: 3\n").unwrap();
        assert_eq!(doc.errors.len(), 1);
        assert_eq!(doc.errors[0].line, 3);
        assert!(doc.errors[0].message.contains("line 1"));
    }

    #[test]
    fn merge_keys_add_what_the_mapping_lacks() {
        let node = root("a: &a {x: 1, y: 2}\nb: &b {z: 3}\nc:\n  <<: [*a, *b]\n  x: 9\n");
        let NodeKind::Map(entries) = node.kind else {
            panic!()
        };
        let NodeKind::Map(c) = &entries[2].1.kind else {
            panic!()
        };
        let pairs: Vec<(String, String)> = c
            .iter()
            .map(|(k, v)| match (&k.kind, &v.kind) {
                (NodeKind::Scalar { text: k, .. }, NodeKind::Scalar { text: v, .. }) => {
                    (k.clone(), v.clone())
                }
                _ => panic!(),
            })
            .collect();
        let expected = [("x", "9"), ("y", "2"), ("z", "3")];
        assert_eq!(
            pairs,
            expected.map(|(k, v)| (k.to_owned(), v.to_owned())).to_vec()
        );
    }

    #[test]
    fn syntax_errors_name_a_line() {
        let err = read_first_document("a:\n  - b\n c: [\n").unwrap_err();
        assert!(err.line >= 2, "{err:?}");
        assert!(err.message.starts_with("YAML syntax error"));
    }

    #[test]
    fn aliases_expand_and_are_capped() {
        let node = root("a: &x [1, 2]\nb: *x\n");
        let NodeKind::Map(entries) = node.kind else {
            panic!()
        };
        assert_eq!(entries[0].1.kind, entries[1].1.kind);

        let mut bomb = String::from("a: &a [x, x, x, x, x, x, x, x, x, x]\n");
        for (i, c) in ('b'..='i').enumerate() {
            let prev = (b'a' + i as u8) as char;
            bomb.push_str(&format!(
                "{c}: &{c} [*{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}, *{prev}]\n"
            ));
        }
        let err = read_first_document(&bomb).unwrap_err();
        assert!(err.message.contains("more than"), "{err:?}");
    }
}
