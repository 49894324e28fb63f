//! Tokens of the `.qir` text form.
//!
//! Newlines are not significant: every statement is delimited by its tokens. Numbers,
//! identifiers and keywords share one "word" token (`[A-Za-z0-9_.+-]+`) that the parser
//! interprets by context, so `-inf`, `1e-7`, `0x7fc00001`, `f32` and `round_prefer_floor` need
//! no special lexing.

use super::ParseError;
use std::ops::Range;

/// One token kind.
#[derive(Clone, PartialEq, Debug)]
pub(crate) enum Tok {
    /// A number, identifier or keyword.
    Word(String),
    /// A string literal, unescaped.
    Str(String),
    /// A value reference `%name` (the name without `%`).
    Value(String),
    /// One of `= ( ) [ ] { } < > , : @`.
    Punct(char),
}

/// A token with its byte range in the source.
#[derive(Clone, Debug)]
pub(crate) struct Token {
    pub tok: Tok,
    pub span: Range<usize>,
}

fn is_word_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '+' | '-')
}

fn is_value_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '.')
}

fn err(span: Range<usize>, message: impl Into<String>) -> ParseError {
    ParseError {
        span,
        message: message.into(),
    }
}

/// Splits `src` into tokens, skipping whitespace and `//` comments.
pub(crate) fn lex(src: &str) -> Result<Vec<Token>, ParseError> {
    let mut toks = Vec::new();
    let mut it = src.char_indices().peekable();
    while let Some(&(start, c)) = it.peek() {
        if c.is_whitespace() {
            it.next();
        } else if c == '/' {
            it.next();
            match it.peek() {
                Some(&(_, '/')) => {
                    while let Some(&(_, c)) = it.peek() {
                        if c == '\n' {
                            break;
                        }
                        it.next();
                    }
                }
                _ => return Err(err(start..start + 1, "expected `//` comment")),
            }
        } else if "=()[]{}<>,:@".contains(c) {
            it.next();
            toks.push(Token {
                tok: Tok::Punct(c),
                span: start..start + 1,
            });
        } else if c == '%' {
            it.next();
            let mut end = start + 1;
            let mut name = String::new();
            while let Some(&(i, c)) = it.peek() {
                if !is_value_char(c) {
                    break;
                }
                name.push(c);
                end = i + c.len_utf8();
                it.next();
            }
            if name.is_empty() {
                return Err(err(start..end, "expected a value name after `%`"));
            }
            toks.push(Token {
                tok: Tok::Value(name),
                span: start..end,
            });
        } else if c == '"' {
            it.next();
            let s = lex_string(src, start, &mut it)?;
            toks.push(s);
        } else if is_word_char(c) {
            let mut end = start;
            let mut w = String::new();
            while let Some(&(i, c)) = it.peek() {
                if !is_word_char(c) {
                    break;
                }
                w.push(c);
                end = i + c.len_utf8();
                it.next();
            }
            toks.push(Token {
                tok: Tok::Word(w),
                span: start..end,
            });
        } else {
            return Err(err(
                start..start + c.len_utf8(),
                format!("unexpected character {c:?}"),
            ));
        }
    }
    Ok(toks)
}

type Chars<'a> = std::iter::Peekable<std::str::CharIndices<'a>>;

fn lex_string(src: &str, start: usize, it: &mut Chars<'_>) -> Result<Token, ParseError> {
    let mut s = String::new();
    loop {
        let Some((i, c)) = it.next() else {
            return Err(err(start..src.len(), "unterminated string"));
        };
        match c {
            '"' => {
                return Ok(Token {
                    tok: Tok::Str(s),
                    span: start..i + 1,
                });
            }
            '\n' => return Err(err(start..i, "unterminated string")),
            '\\' => {
                let Some((j, e)) = it.next() else {
                    return Err(err(start..src.len(), "unterminated string"));
                };
                match e {
                    '"' => s.push('"'),
                    '\\' => s.push('\\'),
                    'n' => s.push('\n'),
                    't' => s.push('\t'),
                    'r' => s.push('\r'),
                    '0' => s.push('\0'),
                    'u' => s.push(lex_unicode_escape(i, it)?),
                    _ => {
                        return Err(err(i..j + e.len_utf8(), format!("unknown escape `\\{e}`")));
                    }
                }
            }
            _ => s.push(c),
        }
    }
}

/// Reads `{hex}` after `\u` (the backslash is at byte `at`).
fn lex_unicode_escape(at: usize, it: &mut Chars<'_>) -> Result<char, ParseError> {
    let bad = |end: usize| err(at..end, "malformed `\\u{..}` escape");
    match it.next() {
        Some((_, '{')) => {}
        Some((j, _)) => return Err(bad(j + 1)),
        None => return Err(bad(at + 2)),
    }
    let mut hex = String::new();
    loop {
        match it.next() {
            Some((j, '}')) => {
                return u32::from_str_radix(&hex, 16)
                    .ok()
                    .filter(|_| !hex.is_empty() && hex.len() <= 6)
                    .and_then(char::from_u32)
                    .ok_or_else(|| bad(j + 1));
            }
            Some((j, c)) if !c.is_ascii_hexdigit() || hex.len() >= 6 => {
                return Err(bad(j + c.len_utf8()));
            }
            Some((_, c)) => hex.push(c),
            None => return Err(bad(at + 2 + hex.len())),
        }
    }
}

/// Quotes `s` for `.qir` text: `"` and `\` are escaped, control characters become `\u{..}`.
pub(crate) fn quote(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<Tok> {
        lex(src).unwrap().into_iter().map(|t| t.tok).collect()
    }

    #[test]
    fn words_cover_numbers_and_identifiers() {
        assert_eq!(
            kinds("%3 = f32[1,-2]<1e-7:0> // comment\n@\"a\\\"b\""),
            vec![
                Tok::Value("3".into()),
                Tok::Punct('='),
                Tok::Word("f32".into()),
                Tok::Punct('['),
                Tok::Word("1".into()),
                Tok::Punct(','),
                Tok::Word("-2".into()),
                Tok::Punct(']'),
                Tok::Punct('<'),
                Tok::Word("1e-7".into()),
                Tok::Punct(':'),
                Tok::Word("0".into()),
                Tok::Punct('>'),
                Tok::Punct('@'),
                Tok::Str("a\"b".into()),
            ]
        );
    }

    #[test]
    fn quote_round_trips_through_the_lexer() {
        for s in [
            "",
            "plain",
            "q\"uo\\te",
            "nl\nand\ttab\0",
            "\u{1b}[0m",
            "ünï",
        ] {
            assert_eq!(kinds(&quote(s)), vec![Tok::Str(s.into())]);
        }
    }

    #[test]
    fn errors_have_spans() {
        let e = lex("%1 = \"abc").unwrap_err();
        assert_eq!((e.span, e.message.as_str()), (5..9, "unterminated string"));
        let e = lex("%1 $").unwrap_err();
        assert_eq!(e.span, 3..4);
        let e = lex("% x").unwrap_err();
        assert_eq!(e.span, 0..1);
        let e = lex("\"\\u{110000}\"").unwrap_err();
        assert!(e.message.contains("escape"));
    }
}
