//! SCIM filters (RFC 7644 3.4.2.2) and attribute paths (RFC 7644 3.5.2 `path`), parsed once into an
//! AST and evaluated against a resource.
//!
//! Supported, as Okta and Entra send them: comparisons with `eq` joined by `and`
//! (`userName eq "x" and active eq true`), value filters on multi-valued attributes with an
//! optional sub-attribute (`emails[type eq "work"].value eq "a@b"`, `members[value eq "id"]`),
//! attribute names prefixed with their schema URN (RFC 7644 3.10), keywords and attribute names
//! in any case (RFC 7643 2.1), and string literals with JSON escapes. Everything else (`or`,
//! `not`, parentheses, `co`/`sw`/`pr`/..., numbers) is refused as `invalidFilter` rather than
//! guessed at. Which attributes a filter may name is decided per resource type by the caller
//! (see `user.rs`, `group.rs`), before any resource is looked at.

use super::error::{quote, ScimError};

/// Longest filter or path accepted, in bytes (a filter is one query parameter).
pub const MAX_FILTER_LEN: usize = 4096;
/// Most `and`-joined comparisons in one filter (per level).
pub const MAX_CLAUSES: usize = 32;

/// Schema URNs an attribute name may be prefixed with (RFC 7644 3.10); stripped when parsing.
/// The enterprise extension is listed so PATCH paths into it can be recognised (and ignored).
pub const CORE_USER_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
/// The core Group schema URN.
pub const CORE_GROUP_SCHEMA: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The enterprise User extension URN (RFC 7643 4.3).
pub const ENTERPRISE_USER_SCHEMA: &str =
    "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User";

/// A filter: one or more clauses that must all hold (`and`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Filter {
    /// The conjuncts; never empty.
    pub clauses: Vec<Clause>,
}

/// One conjunct of a [`Filter`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Clause {
    /// `path eq value`.
    Eq(AttrPath, CompValue),
    /// A bare value path, `emails[type eq "work"]`: some element matches.
    Has(AttrPath),
}

/// An attribute path: `attr`, `attr.sub`, `attr[filter]` or `attr[filter].sub`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AttrPath {
    /// Where a schema URN prefixed the name, that URN (as sent, without the final colon).
    pub schema: Option<String>,
    /// The attribute name as sent (compare with [`AttrPath::is`]).
    pub attr: String,
    /// The value filter in brackets, for multi-valued attributes.
    pub value_filter: Option<Box<Filter>>,
    /// The sub-attribute after the dot.
    pub sub_attr: Option<String>,
}

/// A comparison value (RFC 7644 3.4.2.2 `compValue`, without numbers).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompValue {
    /// A JSON string literal, unescaped.
    Str(String),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
}

/// One attribute value a resource offers a filter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Val<'a> {
    /// A string, and whether it compares case-exactly (RFC 7643 `caseExact`).
    Str(&'a str, bool),
    /// A boolean.
    Bool(bool),
}

impl AttrPath {
    /// Parses a PATCH `path` (RFC 7644 3.5.2): the same grammar as a filter's attribute path.
    pub fn parse(s: &str) -> Result<AttrPath, ScimError> {
        if s.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_path("the path is too long"));
        }
        let mut p = Parser::new(s).map_err(|e| ScimError::invalid_path(e.detail))?;
        let path = p
            .attr_path(true)
            .map_err(|e| ScimError::invalid_path(e.detail))?;
        if p.pos != p.toks.len() {
            return Err(ScimError::invalid_path("unexpected text after the path"));
        }
        Ok(path)
    }

    /// A path naming the attribute `attr` and nothing more (tests and defaults).
    pub fn simple(attr: &str) -> AttrPath {
        AttrPath {
            schema: None,
            attr: attr.to_owned(),
            value_filter: None,
            sub_attr: None,
        }
    }

    /// Whether the attribute is `name`, case-insensitively (RFC 7643 2.1).
    pub fn is(&self, name: &str) -> bool {
        self.attr.eq_ignore_ascii_case(name)
    }

    /// Whether the sub-attribute is `name` (case-insensitive); `None` matches a missing one.
    pub fn sub_is(&self, name: Option<&str>) -> bool {
        match (&self.sub_attr, name) {
            (None, None) => true,
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        }
    }

    /// Whether the path carries the schema URN `urn` or none.
    pub fn in_schema(&self, urn: &str) -> bool {
        self.schema
            .as_deref()
            .is_none_or(|s| s.eq_ignore_ascii_case(urn))
    }
}

impl Filter {
    /// Parses a filter (the already percent-decoded `filter` query parameter).
    pub fn parse(s: &str) -> Result<Filter, ScimError> {
        if s.len() > MAX_FILTER_LEN {
            return Err(ScimError::invalid_filter("the filter is too long"));
        }
        let mut p = Parser::new(s)?;
        let f = p.filter(true)?;
        if p.pos != p.toks.len() {
            return Err(ScimError::invalid_filter(
                "unexpected text after the filter",
            ));
        }
        Ok(f)
    }

    /// Checks every attribute path against `allowed` (the caller's schema), so a filter naming an
    /// attribute this server cannot evaluate fails before any resource is looked at.
    pub fn check(&self, allowed: &dyn Fn(&AttrPath) -> bool) -> Result<(), ScimError> {
        for c in &self.clauses {
            let path = match c {
                Clause::Eq(p, _) | Clause::Has(p) => p,
            };
            if !allowed(path) {
                return Err(ScimError::invalid_filter(format!(
                    "filtering on {} is not supported",
                    quote(&path.to_string())
                )));
            }
        }
        Ok(())
    }

    /// Evaluates the filter; `resolve` gives the values at a path (already checked).
    pub fn matches<'a>(&self, resolve: &dyn Fn(&AttrPath) -> Vec<Val<'a>>) -> bool {
        self.clauses.iter().all(|c| match c {
            Clause::Has(p) => !resolve(p).is_empty(),
            Clause::Eq(p, v) => {
                let vals = resolve(p);
                match v {
                    CompValue::Null => vals.is_empty(),
                    CompValue::Bool(b) => vals.iter().any(|x| match x {
                        Val::Bool(y) => y == b,
                        Val::Str(..) => false,
                    }),
                    CompValue::Str(s) => vals.iter().any(|x| match x {
                        Val::Str(y, true) => y == s,
                        Val::Str(y, false) => ci_eq(y, s),
                        // Lenient: `active eq "true"` as some clients quote booleans.
                        Val::Bool(y) => parse_bool_str(s) == Some(*y),
                    }),
                }
            }
        })
    }

    /// The string literal compared with `attr` by an `eq` clause of this filter (used to build a
    /// new element from a PATCH path such as `emails[type eq "work"].value`).
    pub fn eq_str(&self, attr: &str) -> Option<&str> {
        self.clauses.iter().find_map(|c| match c {
            Clause::Eq(p, CompValue::Str(s))
                if p.is(attr) && p.value_filter.is_none() && p.sub_attr.is_none() =>
            {
                Some(s.as_str())
            }
            _ => None,
        })
    }

    /// The boolean compared with `attr` by an `eq` clause of this filter.
    pub fn eq_bool(&self, attr: &str) -> Option<bool> {
        self.clauses.iter().find_map(|c| match c {
            Clause::Eq(p, CompValue::Bool(b))
                if p.is(attr) && p.value_filter.is_none() && p.sub_attr.is_none() =>
            {
                Some(*b)
            }
            _ => None,
        })
    }
}

/// Case-insensitive equality (RFC 7643 2.2 `caseExact: false`), fast on ASCII.
pub fn ci_eq(a: &str, b: &str) -> bool {
    if a.is_ascii() && b.is_ascii() {
        a.eq_ignore_ascii_case(b)
    } else {
        a.to_lowercase() == b.to_lowercase()
    }
}

/// `"True"` / `"false"` (any case) as a boolean: Entra sends booleans as strings in PATCH.
pub fn parse_bool_str(s: &str) -> Option<bool> {
    if s.eq_ignore_ascii_case("true") {
        Some(true)
    } else if s.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

impl std::fmt::Display for Filter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for (i, c) in self.clauses.iter().enumerate() {
            if i > 0 {
                f.write_str(" and ")?;
            }
            match c {
                Clause::Has(p) => write!(f, "{p}")?,
                Clause::Eq(p, v) => write!(f, "{p} eq {v}")?,
            }
        }
        Ok(())
    }
}

impl std::fmt::Display for AttrPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if let Some(s) = &self.schema {
            write!(f, "{s}:")?;
        }
        f.write_str(&self.attr)?;
        if let Some(vf) = &self.value_filter {
            write!(f, "[{vf}]")?;
        }
        if let Some(s) = &self.sub_attr {
            write!(f, ".{s}")?;
        }
        Ok(())
    }
}

impl std::fmt::Display for CompValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CompValue::Str(s) => {
                let lit = serde_json::to_string(s).map_err(|_| std::fmt::Error)?;
                f.write_str(&lit)
            }
            CompValue::Bool(b) => write!(f, "{b}"),
            CompValue::Null => f.write_str("null"),
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
enum Tok {
    Word(String),
    Str(String),
    Open,
    Close,
}

struct Parser {
    toks: Vec<Tok>,
    pos: usize,
}

fn is_word_char(c: char) -> bool {
    !(c.is_whitespace() || matches!(c, '"' | '[' | ']' | '(' | ')'))
}

impl Parser {
    fn new(s: &str) -> Result<Parser, ScimError> {
        let mut toks = Vec::new();
        let mut it = s.char_indices().peekable();
        while let Some(&(i, c)) = it.peek() {
            if c.is_whitespace() {
                it.next();
            } else if c == '[' {
                it.next();
                toks.push(Tok::Open);
            } else if c == ']' {
                it.next();
                toks.push(Tok::Close);
            } else if c == '(' || c == ')' {
                return Err(ScimError::invalid_filter("parentheses are not supported"));
            } else if c == '"' {
                // Find the closing quote, skipping escaped characters; serde_json then applies
                // the JSON string rules (escapes, no raw control characters).
                it.next();
                let mut end = None;
                while let Some((j, d)) = it.next() {
                    match d {
                        '\\' => {
                            it.next();
                        }
                        '"' => {
                            end = Some(j);
                            break;
                        }
                        _ => {}
                    }
                }
                let end = end.ok_or_else(|| ScimError::invalid_filter("unterminated string"))?;
                let lit: String = crate::core::json::from_str(&s[i..=end])
                    .map_err(|_| ScimError::invalid_filter("invalid string literal"))?;
                toks.push(Tok::Str(lit));
            } else {
                let start = i;
                let mut end = s.len();
                while let Some(&(j, d)) = it.peek() {
                    if !is_word_char(d) {
                        end = j;
                        break;
                    }
                    it.next();
                }
                toks.push(Tok::Word(s[start..end].to_owned()));
            }
        }
        Ok(Parser { toks, pos: 0 })
    }

    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }

    fn next(&mut self) -> Option<Tok> {
        let t = self.toks.get(self.pos).cloned();
        self.pos += 1;
        t
    }

    /// `clause ("and" clause)*`; `top` is false inside brackets, where nesting is refused.
    fn filter(&mut self, top: bool) -> Result<Filter, ScimError> {
        let mut clauses = vec![self.clause(top)?];
        while let Some(Tok::Word(w)) = self.peek() {
            if w.eq_ignore_ascii_case("and") {
                self.pos += 1;
                if clauses.len() >= MAX_CLAUSES {
                    return Err(ScimError::invalid_filter("too many clauses in the filter"));
                }
                clauses.push(self.clause(top)?);
            } else if w.eq_ignore_ascii_case("or") || w.eq_ignore_ascii_case("not") {
                return Err(ScimError::invalid_filter(format!(
                    "the operator {} is not supported (only and)",
                    quote(w)
                )));
            } else {
                return Err(ScimError::invalid_filter(format!(
                    "expected and, found {}",
                    quote(w)
                )));
            }
        }
        Ok(Filter { clauses })
    }

    fn clause(&mut self, top: bool) -> Result<Clause, ScimError> {
        if let Some(Tok::Word(w)) = self.peek() {
            if w.eq_ignore_ascii_case("not") {
                return Err(ScimError::invalid_filter(
                    "the operator not is not supported",
                ));
            }
        }
        let path = self.attr_path(top)?;
        match self.peek() {
            Some(Tok::Word(op)) if op.eq_ignore_ascii_case("eq") => {
                self.pos += 1;
                let v = self.comp_value()?;
                Ok(Clause::Eq(path, v))
            }
            Some(Tok::Word(op)) if !op.eq_ignore_ascii_case("and") => {
                Err(ScimError::invalid_filter(format!(
                    "the operator {} is not supported (only eq)",
                    quote(op)
                )))
            }
            // A bare value path is a filter of its own (RFC 7644 3.4.2.2 `valuePath`).
            _ if path.value_filter.is_some() && path.sub_attr.is_none() => Ok(Clause::Has(path)),
            _ => Err(ScimError::invalid_filter("expected eq after the attribute")),
        }
    }

    fn comp_value(&mut self) -> Result<CompValue, ScimError> {
        match self.next() {
            Some(Tok::Str(s)) => Ok(CompValue::Str(s)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("true") => Ok(CompValue::Bool(true)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("false") => Ok(CompValue::Bool(false)),
            Some(Tok::Word(w)) if w.eq_ignore_ascii_case("null") => Ok(CompValue::Null),
            _ => Err(ScimError::invalid_filter(
                "expected a string, true, false or null after eq",
            )),
        }
    }

    /// `[urn ":"] name [ "[" filter "]" ] [ "." sub ]`; brackets only when `brackets`.
    fn attr_path(&mut self, brackets: bool) -> Result<AttrPath, ScimError> {
        let word = match self.next() {
            Some(Tok::Word(w)) => w,
            _ => return Err(ScimError::invalid_filter("expected an attribute name")),
        };
        let (schema, rest) = split_schema(&word);
        let (attr, mut sub) = match rest.split_once('.') {
            Some((a, s)) => (a.to_owned(), Some(s.to_owned())),
            None => (rest.to_owned(), None),
        };
        check_name(&attr)?;
        let mut value_filter = None;
        if sub.is_none() && self.peek() == Some(&Tok::Open) {
            if !brackets {
                return Err(ScimError::invalid_filter(
                    "nested value filters are not supported",
                ));
            }
            self.pos += 1;
            value_filter = Some(Box::new(self.filter(false)?));
            if self.next() != Some(Tok::Close) {
                return Err(ScimError::invalid_filter("expected ]"));
            }
            // `emails[type eq "work"].value`: the sub-attribute is the next word, glued to `]`.
            if let Some(Tok::Word(w)) = self.peek() {
                if let Some(s) = w.strip_prefix('.') {
                    sub = Some(s.to_owned());
                    self.pos += 1;
                }
            }
        }
        if let Some(s) = &sub {
            check_name(s)?;
        }
        Ok(AttrPath {
            schema,
            attr,
            value_filter,
            sub_attr: sub,
        })
    }
}

/// Splits a known schema URN prefix off an attribute name (RFC 7644 3.10). An unknown `urn:`
/// prefix is kept whole in the name, which then fails [`check_name`].
fn split_schema(word: &str) -> (Option<String>, &str) {
    for urn in [CORE_USER_SCHEMA, CORE_GROUP_SCHEMA, ENTERPRISE_USER_SCHEMA] {
        if word.len() > urn.len()
            && word.is_char_boundary(urn.len())
            && word[..urn.len()].eq_ignore_ascii_case(urn)
            && word[urn.len()..].starts_with(':')
        {
            return (Some(word[..urn.len()].to_owned()), &word[urn.len() + 1..]);
        }
    }
    (None, word)
}

/// RFC 7643 2.1 `ATTRNAME = ALPHA *(nameChar)`, `nameChar = "-" / "_" / DIGIT / ALPHA` (`$ref`
/// is also allowed, as RFC 7643 uses it).
fn check_name(name: &str) -> Result<(), ScimError> {
    let ok = name == "$ref"
        || (name.starts_with(|c: char| c.is_ascii_alphabetic())
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if ok {
        Ok(())
    } else {
        Err(ScimError::invalid_filter(format!(
            "invalid attribute name {}",
            quote(name)
        )))
    }
}

#[cfg(test)]
#[path = "filter_tests.rs"]
mod tests;
