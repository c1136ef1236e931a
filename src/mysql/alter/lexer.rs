//! The tokenizer: MySQL ALTER text to tokens, following the server's lexical rules.
//!
//! Invariants kept for the rest of the module: comments (`#`, `-- `, `/* */`) produce no tokens, so their words
//! are never read as keywords; strings and quoted identifiers are single tokens, unescaped, and never `Word`s;
//! the content of `/*! ... */` is code for the server and is tokenized as such, with the comment's byte range
//! recorded so text cut from the source stays valid SQL; every token keeps its byte range in the source; and
//! when `tokenize` succeeds, parentheses are balanced (callers walking nested lists rely on it).

use super::config;
use crate::Result;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    /// Unquoted keyword, identifier or number.
    Word,
    /// `` `ident` ``.
    Backtick,
    /// `'text'`, or `"text"` (`double`), which is an identifier under ANSI_QUOTES.
    Str { double: bool },
    /// Any other single character: `(`, `)`, `,`, `=`, `.`, `;`, operators.
    Punct(char),
}

#[derive(Debug, Clone)]
pub(super) struct Token {
    pub(super) kind: Kind,
    /// Word as written; quoted tokens unescaped; the character for punctuation.
    pub(super) text: String,
    /// Byte range in the source.
    pub(super) start: usize,
    pub(super) end: usize,
}

impl Token {
    pub(super) fn is_kw(&self, kw: &str) -> bool {
        self.kind == Kind::Word && self.text.eq_ignore_ascii_case(kw)
    }

    pub(super) fn is_punct(&self, c: char) -> bool {
        self.kind == Kind::Punct(c)
    }

    /// The name, if this token can be an identifier: unquoted, backticked, or double-quoted (ANSI_QUOTES; without
    /// it the server rejects the statement anyway).
    pub(super) fn ident(&self) -> Option<&str> {
        match self.kind {
            Kind::Word | Kind::Backtick | Kind::Str { double: true } => Some(&self.text),
            _ => None,
        }
    }
}

pub(super) fn kw(tokens: &[Token], i: usize, word: &str) -> bool {
    tokens.get(i).is_some_and(|t| t.is_kw(word))
}

/// Whether token `i` is one of the space-separated keywords in `words`.
pub(super) fn kw_any(tokens: &[Token], i: usize, words: &str) -> bool {
    words.split_whitespace().any(|w| kw(tokens, i, w))
}

pub(super) struct Lexed {
    pub(super) tokens: Vec<Token>,
    /// Byte ranges of `/*! ... */` comments, whose content MySQL runs as code and which we tokenize as such.
    exec_comments: Vec<(usize, usize)>,
}

impl Lexed {
    /// Source text of a run of tokens, as written (for reporting).
    pub(super) fn text<'a>(&self, src: &'a str, tokens: &[Token]) -> &'a str {
        match (tokens.first(), tokens.last()) {
            (Some(first), Some(last)) => &src[first.start..last.end],
            _ => "",
        }
    }

    /// Byte range of a run of tokens, widened to whole `/*! ... */` comments so the text stays valid SQL.
    pub(super) fn span_for_sql(&self, tokens: &[Token]) -> (usize, usize) {
        let (Some(first), Some(last)) = (tokens.first(), tokens.last()) else {
            return (0, 0);
        };
        let (mut start, mut end) = (first.start, last.end);
        for &(open, close) in &self.exec_comments {
            if open < start && start < close {
                start = open;
            }
            if open < end && end < close {
                end = close;
            }
        }
        (start, end)
    }
}

/// Up to 30 characters of the source from `pos`, to show where a problem is.
pub(super) fn near(src: &str, pos: usize) -> String {
    let rest: String = src[pos..].chars().take(30).collect();
    if rest.len() < src.len() - pos {
        format!("{rest}...")
    } else {
        rest
    }
}

fn is_word_byte(b: u8) -> bool {
    // MySQL identifiers may use any character from U+0080 up, so every byte of a multi-byte UTF-8 sequence counts.
    b.is_ascii_alphanumeric() || b == b'_' || b == b'$' || b >= 0x80
}

pub(super) fn tokenize(src: &str) -> Result<Lexed> {
    let b = src.as_bytes();
    let mut tokens = Vec::new();
    let mut exec_comments = Vec::new();
    let mut open_exec: Option<usize> = None;
    let mut open_parens: Vec<usize> = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let next = b.get(i + 1).copied();
        let start = i;
        match c {
            _ if c.is_ascii_whitespace() => i += 1,
            b'#' => i = line_end(b, i),
            // `--` starts a comment only when followed by whitespace or a control character (or the end).
            b'-' if next == Some(b'-') && b.get(i + 2).is_none_or(|&n| n <= b' ') => i = line_end(b, i),
            b'/' if next == Some(b'*') => {
                if b.get(i + 2) == Some(&b'!') && open_exec.is_none() {
                    // `/*!` or `/*!50700`: the content is code for the server.
                    open_exec = Some(i);
                    i += 3;
                    while i < b.len() && b[i].is_ascii_digit() {
                        i += 1;
                    }
                } else {
                    match src[i + 2..].find("*/") {
                        Some(off) => i += 2 + off + 2,
                        None => {
                            return Err(config(format!("unterminated /* comment in --alter near `{}`", near(src, i))))
                        }
                    }
                }
            }
            b'*' if next == Some(b'/') && open_exec.is_some() => {
                exec_comments.push((open_exec.take().unwrap_or(i), i + 2));
                i += 2;
            }
            b'`' | b'\'' | b'"' => {
                let (text, end) = quoted(src, i)?;
                let kind = match c {
                    b'`' => Kind::Backtick,
                    _ => Kind::Str { double: c == b'"' },
                };
                tokens.push(Token { kind, text, start, end });
                i = end;
            }
            _ if is_word_byte(c) => {
                while i < b.len() && is_word_byte(b[i]) {
                    i += 1;
                }
                tokens.push(Token { kind: Kind::Word, text: src[start..i].to_string(), start, end: i });
            }
            _ => {
                if c == b'(' {
                    open_parens.push(i);
                } else if c == b')' && open_parens.pop().is_none() {
                    let msg = "unbalanced parentheses in --alter: `)` without a matching `(`";
                    return Err(config(format!("{msg} near `{}`", near(src, i))));
                }
                let ch = c as char; // ASCII: bytes from 0x80 up are word bytes
                tokens.push(Token { kind: Kind::Punct(ch), text: ch.to_string(), start, end: i + 1 });
                i += 1;
            }
        }
    }
    if let Some(pos) = open_exec {
        return Err(config(format!("unterminated /*! comment in --alter near `{}`", near(src, pos))));
    }
    if let Some(&pos) = open_parens.last() {
        return Err(config(format!(
            "unbalanced parentheses in --alter: `(` is never closed near `{}`",
            near(src, pos)
        )));
    }
    Ok(Lexed { tokens, exec_comments })
}

fn line_end(b: &[u8], from: usize) -> usize {
    b[from..].iter().position(|&c| c == b'\n').map_or(b.len(), |p| from + p + 1)
}

/// Reads a quoted token starting at `start` (on the quote); returns its unescaped text and the end offset.
/// A doubled quote stands for itself; in strings (not identifiers) a backslash escapes the next character.
fn quoted(src: &str, start: usize) -> Result<(String, usize)> {
    let b = src.as_bytes();
    let q = b[start];
    let mut out = Vec::new();
    let mut i = start + 1;
    while i < b.len() {
        let c = b[i];
        if c == q {
            if b.get(i + 1) == Some(&q) {
                out.push(q);
                i += 2;
                continue;
            }
            return Ok((String::from_utf8_lossy(&out).into_owned(), i + 1));
        }
        if c == b'\\' && q != b'`' && i + 1 < b.len() {
            out.push(match b[i + 1] {
                b'n' => b'\n',
                b't' => b'\t',
                b'r' => b'\r',
                b'0' => 0,
                b'Z' => 0x1a,
                b'b' => 0x08,
                other => other,
            });
            i += 2;
            continue;
        }
        out.push(c);
        i += 1;
    }
    let what = match q {
        b'`' => "backtick-quoted identifier",
        b'"' => "double-quoted string",
        _ => "single-quoted string",
    };
    Err(config(format!("unbalanced quotes in --alter: unterminated {what} starting at `{}`", near(src, start))))
}
