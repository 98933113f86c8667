//! TEMPORARY stand-in for the expression parser while it is being written on
//! the `expr` branch; replaced at merge.
#![allow(dead_code)]
use super::Value;

#[derive(Debug, Clone, PartialEq)]
pub struct ExprError {
    pub offset: usize,
    pub len: usize,
    pub message: String,
}
#[derive(Debug, Clone)]
pub struct Expr {
    src: String,
}
pub struct Template {
    exprs: Vec<(usize, Expr)>,
}
pub struct Condition {
    exprs: Vec<(usize, Expr)>,
}
const FUNCS: &[&str] = &[
    "contains",
    "startswith",
    "endswith",
    "format",
    "join",
    "tojson",
    "fromjson",
    "hashfiles",
    "success",
    "always",
    "cancelled",
    "failure",
];

fn idents(src: &str) -> Vec<(String, usize, bool)> {
    let b = src.as_bytes();
    let mut out = vec![];
    let mut i = 0;
    let mut in_str = false;
    while i < b.len() {
        let c = b[i];
        if c == b'\'' {
            in_str = !in_str;
            i += 1;
            continue;
        }
        if in_str {
            i += 1;
            continue;
        }
        if c.is_ascii_alphabetic() || c == b'_' {
            let s = i;
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'-') {
                i += 1;
            }
            let prev_dot = s > 0 && b[s - 1] == b'.';
            let word = &src[s..i];
            if !prev_dot && !matches!(word, "true" | "false" | "null" | "NaN" | "Infinity") {
                out.push((word.to_string(), s, b.get(i) == Some(&b'(')));
            }
        } else if c.is_ascii_digit() {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'.') {
                i += 1;
            }
        } else {
            i += 1;
        }
    }
    out
}
pub fn parse(src: &str) -> Result<Expr, ExprError> {
    for (w, at, call) in idents(src) {
        if call && !FUNCS.contains(&w.to_ascii_lowercase().as_str()) {
            return Err(ExprError {
                offset: at,
                len: w.len(),
                message: format!("Unrecognized function: '{w}'"),
            });
        }
    }
    if src.trim_end().ends_with("==") {
        return Err(ExprError {
            offset: src.len(),
            len: 0,
            message: "Unexpected end of expression".into(),
        });
    }
    Ok(Expr {
        src: src.to_string(),
    })
}
impl Expr {
    pub fn named_values(&self) -> Vec<(String, usize)> {
        idents(&self.src)
            .into_iter()
            .filter(|x| !x.2)
            .map(|(w, a, _)| (w.to_ascii_lowercase(), a))
            .collect()
    }
    pub fn function_calls(&self) -> Vec<(String, usize)> {
        idents(&self.src)
            .into_iter()
            .filter(|x| x.2)
            .map(|(w, a, _)| (w.to_ascii_lowercase(), a))
            .collect()
    }
    pub fn eval(&self, _c: &()) -> Result<Value, ()> {
        Err(())
    }
}
pub fn parse_template(src: &str) -> Result<Template, ExprError> {
    let mut exprs = vec![];
    let mut rest = 0;
    while let Some(p) = src[rest..].find("${{") {
        let start = rest + p + 3;
        let Some(e) = src[start..].find("}}") else {
            return Err(ExprError {
                offset: rest + p,
                len: 3,
                message: "Unclosed expression".into(),
            });
        };
        let inner = &src[start..start + e];
        match parse(inner) {
            Ok(x) => exprs.push((start, x)),
            Err(mut er) => {
                er.offset += start;
                return Err(er);
            }
        }
        rest = start + e + 2;
    }
    Ok(Template { exprs })
}
impl Template {
    pub fn expressions(&self) -> impl Iterator<Item = (usize, &Expr)> {
        self.exprs.iter().map(|(o, e)| (*o, e))
    }
}
pub fn parse_condition(src: &str) -> Result<Condition, ExprError> {
    if src.contains("${{") {
        return parse_template(src).map(|t| Condition { exprs: t.exprs });
    }
    parse(src).map(|e| Condition {
        exprs: vec![(0, e)],
    })
}
impl Condition {
    pub fn expressions(&self) -> impl Iterator<Item = (usize, &Expr)> {
        self.exprs.iter().map(|(o, e)| (*o, e))
    }
}
