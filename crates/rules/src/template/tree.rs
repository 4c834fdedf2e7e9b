//! Walks over a parsed template (`gotmpl`'s syntax tree) for what Go's
//! `text/template` does at parse time and `gotmpl` does not:
//! - every function called must exist and every variable used must be declared in
//!   scope (Go refuses `{{ humanise $value }}` and `{{ $foo }}` when parsing, which is
//!   what `promtool check rules` reports), and no pipeline stage after the first may
//!   be a constant (`{{ . | 1 }}`);
//! - printing actions are rewritten to go through [`PRINT_FUNC`], so values are
//!   printed as Go prints them (`1e+06`, `+Inf`), not as Rust does;
//! - whether a function (`query`) is called anywhere.

use gotmpl::parse::{BranchNode, CommandNode, Expr, ListNode, Node, PipeNode, SmolStr};

/// The function every printing action is piped into (see [`wrap_prints`]).
pub(crate) const PRINT_FUNC: &str = "__tally_print";

/// A name that is not defined (or a pipeline stage that cannot run), with the
/// template line it is on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Undefined {
    /// 1-based line in the template text.
    pub(crate) line: usize,
    /// Go's words for it: `function "x" not defined` or `undefined variable "$x"`.
    pub(crate) message: String,
}

/// Checks that every function called is in `functions` and every variable is
/// declared before use; returns the first problem.
pub(crate) fn check_names(list: &ListNode, functions: &dyn Fn(&str) -> bool) -> Option<Undefined> {
    let mut checker = Checker {
        functions,
        vars: vec![SmolStr::from("$")],
    };
    checker.list(list).err()
}

struct Checker<'f> {
    functions: &'f dyn Fn(&str) -> bool,
    vars: Vec<SmolStr>,
}

impl Checker<'_> {
    fn list(&mut self, list: &ListNode) -> Result<(), Undefined> {
        for node in &list.nodes {
            self.node(node)?;
        }
        Ok(())
    }

    fn node(&mut self, node: &Node) -> Result<(), Undefined> {
        match node {
            Node::List(list) => self.list(list),
            Node::Action(action) => self.pipe(&action.pipe),
            Node::If(b) | Node::Range(b) | Node::With(b) => self.branch(b),
            Node::Template(t) => match &t.pipe {
                Some(pipe) => self.pipe(pipe),
                None => Ok(()),
            },
            Node::Define(d) => {
                let saved = std::mem::replace(&mut self.vars, vec![SmolStr::from("$")]);
                let result = self.list(&d.body);
                self.vars = saved;
                result
            }
            Node::Text(_) | Node::Break(_) | Node::Continue(_) => Ok(()),
        }
    }

    /// Variables declared in a control's pipeline or body live until its `{{end}}`.
    fn branch(&mut self, b: &BranchNode) -> Result<(), Undefined> {
        let depth = self.vars.len();
        let result = self.pipe(&b.pipe).and_then(|()| {
            self.list(&b.body)?;
            match &b.else_body {
                Some(list) => self.list(list),
                None => Ok(()),
            }
        });
        self.vars.truncate(depth);
        result
    }

    fn pipe(&mut self, pipe: &PipeNode) -> Result<(), Undefined> {
        // Go: only the first command of a pipeline may start with a constant or dot.
        for (stage, command) in pipe.commands.iter().enumerate().skip(1) {
            if let Some(
                Expr::Bool(pos, _)
                | Expr::Dot(pos)
                | Expr::Nil(pos)
                | Expr::Number(pos, _)
                | Expr::String(pos, _),
            ) = command.args.first()
            {
                return Err(Undefined {
                    line: pos.line,
                    message: format!("non executable command in pipeline stage {}", stage + 1),
                });
            }
        }
        for command in &pipe.commands {
            for arg in &command.args {
                self.expr(arg)?;
            }
        }
        // Go's parser checks neither side of `$x = ...` (an undeclared `$x` fails when
        // the template runs), so only declarations are recorded.
        if !pipe.is_assign {
            self.vars.extend(pipe.decl.iter().cloned());
        }
        Ok(())
    }

    fn variable(&self, name: &SmolStr, line: usize) -> Result<(), Undefined> {
        if self.vars.contains(name) {
            Ok(())
        } else {
            Err(Undefined {
                line,
                message: format!("undefined variable {:?}", name.as_str()),
            })
        }
    }

    fn expr(&mut self, expr: &Expr) -> Result<(), Undefined> {
        match expr {
            Expr::Identifier(pos, name) if !(self.functions)(name) => Err(Undefined {
                line: pos.line,
                message: format!("function {:?} not defined", name.as_str()),
            }),
            Expr::Variable(pos, name, _) => self.variable(name, pos.line),
            Expr::Pipe(_, pipe) => {
                // A parenthesized pipeline's declarations stay visible after it, as
                // in Go.
                self.pipe(pipe)
            }
            Expr::Chain(_, inner, _) => self.expr(inner),
            _ => Ok(()),
        }
    }
}

/// Pipes the value of every printing action (one without a declaration) into
/// [`PRINT_FUNC`], everywhere in `list`.
pub(crate) fn wrap_prints(list: &mut ListNode) {
    for node in &mut list.nodes {
        match node {
            Node::List(inner) => wrap_prints(inner),
            Node::Action(action) if action.pipe.decl.is_empty() => {
                let pos = action.pipe.pos;
                action.pipe.commands.push(CommandNode {
                    pos,
                    args: vec![Expr::Identifier(pos, SmolStr::from(PRINT_FUNC))],
                });
            }
            Node::If(b) | Node::Range(b) | Node::With(b) => {
                wrap_prints(&mut b.body);
                if let Some(list) = &mut b.else_body {
                    wrap_prints(list);
                }
            }
            Node::Define(d) => wrap_prints(&mut d.body),
            _ => {}
        }
    }
}

/// Whether `list` calls the function `name` anywhere.
pub(crate) fn calls(list: &ListNode, name: &str) -> bool {
    list.nodes.iter().any(|node| node_calls(node, name))
}

fn node_calls(node: &Node, name: &str) -> bool {
    match node {
        Node::List(list) => calls(list, name),
        Node::Action(action) => pipe_calls(&action.pipe, name),
        Node::If(b) | Node::Range(b) | Node::With(b) => {
            pipe_calls(&b.pipe, name)
                || calls(&b.body, name)
                || b.else_body.as_ref().is_some_and(|l| calls(l, name))
        }
        Node::Template(t) => t.pipe.as_ref().is_some_and(|p| pipe_calls(p, name)),
        Node::Define(d) => calls(&d.body, name),
        Node::Text(_) | Node::Break(_) | Node::Continue(_) => false,
    }
}

fn pipe_calls(pipe: &PipeNode, name: &str) -> bool {
    pipe.commands
        .iter()
        .flat_map(|c| &c.args)
        .any(|e| expr_calls(e, name))
}

fn expr_calls(expr: &Expr, name: &str) -> bool {
    match expr {
        Expr::Identifier(_, n) => n == name,
        Expr::Pipe(_, pipe) => pipe_calls(pipe, name),
        Expr::Chain(_, inner, _) => expr_calls(inner, name),
        _ => false,
    }
}
