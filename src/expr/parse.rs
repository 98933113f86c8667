//! Builds the syntax tree from tokens.
//!
//! Precedence, lowest first: `||`, `&&`, `== !=`, `< <= > >=`, `!`, then
//! property access, indexing and calls. `&&` and `||` chains are one n-ary
//! node, as in GitHub's parser, so a long `a || b || c ...` is shallow.
//!
//! Nesting is limited the way GitHub limits it (max depth 50, counted at the
//! same places its parser counts), which also keeps recursion here and in the
//! evaluator far from the stack's limit whatever the input.

use super::error::ExprError;
use super::functions::Func;
use super::lex::{Tok, Token, lex};
use super::value::Value;

pub(crate) const MAX_DEPTH: usize = 50;

#[derive(Clone, Debug)]
pub(crate) enum Node {
    Literal(Value),
    /// A context such as `github`, as written, with its byte offset.
    Context {
        name: String,
        offset: usize,
    },
    Index {
        target: Box<Node>,
        index: Index,
    },
    Not(Box<Node>),
    Binary {
        op: BinOp,
        left: Box<Node>,
        right: Box<Node>,
    },
    /// `a && b && c` or `a || b || c`: returns the deciding operand.
    Logical {
        and: bool,
        args: Vec<Node>,
    },
    Call {
        func: Func,
        name: String,
        offset: usize,
        args: Vec<Node>,
    },
    Group(Box<Node>),
}

#[derive(Clone, Debug)]
pub(crate) enum Index {
    /// `.*` or `[*]`
    Star,
    /// `.name`
    Property(String),
    /// `[expr]`
    Expr(Box<Node>),
}

#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum BinOp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Node {
    /// Calls `f` on this node and every node below it.
    pub fn walk<'n>(&'n self, f: &mut dyn FnMut(&'n Node)) {
        f(self);
        match self {
            Node::Literal(_) | Node::Context { .. } => {}
            Node::Index { target, index } => {
                target.walk(f);
                if let Index::Expr(e) = index {
                    e.walk(f);
                }
            }
            Node::Not(e) | Node::Group(e) => e.walk(f),
            Node::Binary { left, right, .. } => {
                left.walk(f);
                right.walk(f);
            }
            Node::Logical { args, .. } | Node::Call { args, .. } => {
                for a in args {
                    a.walk(f);
                }
            }
        }
    }
}

/// Parses a whole expression; an empty one is `null`, as in GitHub's tests.
/// With `known`, a context name it does not accept is an error at the point
/// GitHub's parser reports it.
pub(crate) fn parse_node(
    src: &str,
    known: Option<&dyn Fn(&str) -> bool>,
) -> Result<Node, ExprError> {
    let tokens = lex(src)?;
    let mut p = Parser {
        src,
        tokens,
        pos: 0,
        depth: 0,
        known,
    };
    if p.at_end() {
        return Ok(Node::Literal(Value::Null));
    }
    let node = p.expression()?;
    if !p.at_end() {
        return Err(p.error_at("Unexpected symbol", p.pos));
    }
    Ok(node)
}

struct Parser<'s> {
    src: &'s str,
    tokens: Vec<Token>,
    pos: usize,
    depth: usize,
    known: Option<&'s dyn Fn(&str) -> bool>,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        self.tokens.get(self.pos).map_or(&Tok::Eof, |t| &t.kind)
    }

    fn at_end(&self) -> bool {
        matches!(self.peek(), Tok::Eof)
    }

    fn check(&self, kind: &Tok) -> bool {
        std::mem::discriminant(self.peek()) == std::mem::discriminant(kind)
    }

    fn eat(&mut self, kind: &Tok) -> bool {
        if !self.at_end() && self.check(kind) {
            self.pos += 1;
            true
        } else {
            false
        }
    }

    /// `description: 'token'` pointing at the token with index `i`.
    fn error_at(&self, description: &str, i: usize) -> ExprError {
        match self.tokens.get(i) {
            Some(t) => ExprError {
                offset: t.start,
                len: t.end - t.start,
                message: format!("{description}: '{}'", t.text(self.src)),
            },
            None => ExprError {
                offset: self.src.len(),
                len: 0,
                message: format!("{description}: 'EOF'"),
            },
        }
    }

    /// GitHub reports running out of tokens at the last real token.
    fn unexpected_end(&self) -> ExprError {
        self.error_at("Unexpected end of expression", self.pos.saturating_sub(1))
    }

    fn enter(&mut self) -> Result<(), ExprError> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            let mut e = self.error_at("", self.pos);
            e.message = format!("Exceeded max expression depth {MAX_DEPTH}");
            return Err(e);
        }
        Ok(())
    }

    fn expression(&mut self) -> Result<Node, ExprError> {
        self.enter()?;
        let node = self.logical(false);
        self.depth -= 1;
        node
    }

    /// `||` (and = false) or `&&` (and = true). As in GitHub's parser the
    /// first operand is parsed before the depth is raised for the chain.
    fn logical(&mut self, and: bool) -> Result<Node, ExprError> {
        let operand = |p: &mut Self| {
            if and { p.equality() } else { p.logical(true) }
        };
        let op = if and { Tok::And } else { Tok::Or };
        let first = operand(self)?;
        if !self.check(&op) {
            return Ok(first);
        }
        self.enter()?;
        let mut args = vec![first];
        let result = loop {
            if !self.eat(&op) {
                break Ok(Node::Logical { and, args });
            }
            match operand(self) {
                Ok(n) => args.push(n),
                Err(e) => break Err(e),
            }
        };
        self.depth -= 1;
        result
    }

    fn equality(&mut self) -> Result<Node, ExprError> {
        let mut left = self.comparison()?;
        loop {
            let op = match self.peek() {
                Tok::Eq => BinOp::Eq,
                Tok::Ne => BinOp::Ne,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.comparison()?;
            left = Node::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
    }

    fn comparison(&mut self) -> Result<Node, ExprError> {
        let mut left = self.unary()?;
        loop {
            let op = match self.peek() {
                Tok::Lt => BinOp::Lt,
                Tok::Le => BinOp::Le,
                Tok::Gt => BinOp::Gt,
                Tok::Ge => BinOp::Ge,
                _ => return Ok(left),
            };
            self.pos += 1;
            let right = self.unary()?;
            left = Node::Binary {
                op,
                left: Box::new(left),
                right: Box::new(right),
            };
        }
    }

    fn unary(&mut self) -> Result<Node, ExprError> {
        if self.eat(&Tok::Bang) {
            self.enter()?;
            let inner = self.unary();
            self.depth -= 1;
            return Ok(Node::Not(Box::new(inner?)));
        }
        self.postfix()
    }

    /// Property access and indexing; only after a name, a call or a group.
    fn postfix(&mut self) -> Result<Node, ExprError> {
        let mut node = self.call()?;
        if !matches!(
            node,
            Node::Group(_) | Node::Call { .. } | Node::Context { .. }
        ) {
            return Ok(node);
        }
        let saved_depth = self.depth;
        let result = loop {
            if self.eat(&Tok::LBracket) {
                let index = if self.eat(&Tok::Star) {
                    Index::Star
                } else {
                    match self.expression() {
                        Ok(e) => Index::Expr(Box::new(e)),
                        Err(e) => break Err(e),
                    }
                };
                if !self.eat(&Tok::RBracket) {
                    break Err(self.unexpected_or_end());
                }
                if let Err(e) = self.enter() {
                    break Err(e);
                }
                node = Node::Index {
                    target: Box::new(node),
                    index,
                };
            } else if self.eat(&Tok::Dot) {
                if let Err(e) = self.enter() {
                    break Err(e);
                }
                let index = if self.check(&Tok::Ident) {
                    let t = &self.tokens[self.pos];
                    let name = t.text(self.src).to_string();
                    self.pos += 1;
                    Index::Property(name)
                } else if self.eat(&Tok::Star) {
                    Index::Star
                } else {
                    break Err(self.unexpected_or_end());
                };
                node = Node::Index {
                    target: Box::new(node),
                    index,
                };
            } else {
                break Ok(node);
            }
        };
        self.depth = saved_depth;
        result
    }

    fn unexpected_or_end(&self) -> ExprError {
        if self.at_end() {
            self.unexpected_end()
        } else {
            self.error_at("Unexpected symbol", self.pos)
        }
    }

    fn call(&mut self) -> Result<Node, ExprError> {
        if !self.check(&Tok::Ident) {
            return self.primary();
        }
        let ident = self.pos;
        self.pos += 1;
        let (offset, name) = {
            let t = &self.tokens[ident];
            (t.start, t.text(self.src).to_string())
        };
        if !self.eat(&Tok::LParen) {
            if self.known.is_some_and(|known| !known(&name)) {
                return Err(self.error_at("Unrecognized named-value", ident));
            }
            return Ok(Node::Context { name, offset });
        }
        let mut args = Vec::new();
        if !self.eat(&Tok::RParen) {
            loop {
                args.push(self.expression()?);
                if self.eat(&Tok::RParen) {
                    break;
                }
                if !self.eat(&Tok::Comma) {
                    return Err(self.unexpected_or_end());
                }
            }
        }
        let Some(func) = Func::from_name(&name) else {
            return Err(self.error_at("Unrecognized function", ident));
        };
        let (min, max) = func.arity();
        if args.len() < min {
            return Err(self.error_at("Too few parameters supplied", ident));
        }
        if args.len() > max {
            return Err(self.error_at("Too many parameters supplied", ident));
        }
        if func == Func::Case && args.len() % 2 == 0 {
            return Err(self.error_at(
                "Even number of parameters supplied, requires an odd number of parameters",
                ident,
            ));
        }
        Ok(Node::Call {
            func,
            name,
            offset,
            args,
        })
    }

    fn primary(&mut self) -> Result<Node, ExprError> {
        let literal = match self.peek() {
            Tok::False => Value::Bool(false),
            Tok::True => Value::Bool(true),
            Tok::Null => Value::Null,
            Tok::Number(n) => Value::Number(*n),
            Tok::Str(s) => Value::String(s.clone()),
            Tok::LParen => {
                self.pos += 1;
                let inner = self.expression()?;
                if self.at_end() {
                    return Err(self.unexpected_end());
                }
                if !self.eat(&Tok::RParen) {
                    return Err(self.error_at("Unexpected symbol", self.pos));
                }
                return Ok(Node::Group(Box::new(inner)));
            }
            Tok::Eof => return Err(self.unexpected_end()),
            _ => return Err(self.error_at("Unexpected symbol", self.pos)),
        };
        self.pos += 1;
        Ok(Node::Literal(literal))
    }
}
