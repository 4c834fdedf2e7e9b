//! [`Lexer`]: splits an exposition into [`Entry`]s, line by line, without copying.
//!
//! Names, label values and help texts are borrowed from the input unless they contain a
//! backslash escape, in which case that one string is unescaped into an owned copy. The
//! label pairs of the latest sample line live in a buffer the lexer reuses
//! ([`Lexer::labels`]), so lexing a line allocates nothing in the common case.
//!
//! Consecutive sample lines often repeat their labels (a histogram's `_bucket`, `_sum`
//! and `_count` lines differ only in `le`). The lexer compares a line's label set, as
//! text, with the previous sample line's and keeps the pairs that lie wholly within the
//! common prefix instead of lexing them again ([`Lexer::reused_labels`]). Lexing a pair
//! depends on nothing but its own bytes, so this yields exactly what lexing would.
//!
//! Grammar differences between the formats that the lexer enforces:
//!
//! | | text 0.0.4 | OpenMetrics 1.0 |
//! |---|---|---|
//! | separators | one or more spaces or tabs | exactly one space |
//! | blank lines, other `#` comments | ignored | errors |
//! | trailing comma in `{...}` | allowed | error |
//! | timestamp | integer milliseconds | decimal seconds |
//! | exemplar `# {...} v [ts]` | error | allowed |
//! | help escapes | `\\`, `\n` | `\\`, `\n`, `\"` |
//! | end | end of input | `# EOF`, then nothing |

use std::borrow::Cow;

use super::error::{ParseError, ParseErrorKind};
use super::float::{parse_float, parse_ms, parse_seconds_to_ms};
use super::Format;
use crate::MetricType;

/// A label pair as lexed: name and unescaped value.
pub type LabelPair<'a> = (Cow<'a, str>, Cow<'a, str>);

/// One line of an exposition.
#[derive(Debug, Clone, PartialEq)]
pub enum Entry<'a> {
    /// `# HELP name text`.
    Help {
        /// The family name.
        name: Cow<'a, str>,
        /// The help text, unescaped.
        text: Cow<'a, str>,
    },
    /// `# TYPE name type`.
    Type {
        /// The family name as written.
        name: Cow<'a, str>,
        /// The type.
        metric_type: MetricType,
    },
    /// `# UNIT name unit` (OpenMetrics).
    Unit {
        /// The family name.
        name: Cow<'a, str>,
        /// The unit.
        unit: Cow<'a, str>,
    },
    /// A blank line or another comment (text format only).
    Comment,
    /// A sample line; its labels are in [`Lexer::labels`].
    Sample(SampleLine<'a>),
    /// OpenMetrics' `# EOF`.
    Eof,
}

/// The parts of a sample line other than its labels.
#[derive(Debug, Clone, PartialEq)]
pub struct SampleLine<'a> {
    /// The sample name (e.g. `foo_bucket`).
    pub name: Cow<'a, str>,
    /// The value.
    pub value: f64,
    /// The timestamp in milliseconds, if given.
    pub timestamp_ms: Option<i64>,
    /// An OpenMetrics exemplar's value and timestamp (seconds); its labels are in
    /// [`Lexer::exemplar_labels`].
    pub exemplar: Option<(f64, Option<f64>)>,
}

/// Streams the entries of an exposition. See the module documentation.
#[derive(Debug)]
pub struct Lexer<'a> {
    input: &'a str,
    format: Format,
    /// Byte offset where the next line starts.
    next: usize,
    /// Byte offset where the current line starts.
    line_start: usize,
    /// 1-based number of the current line (0 before the first).
    line: usize,
    labels: Vec<LabelPair<'a>>,
    /// Where each pair of `labels` ends within `label_text` (just after its closing quote).
    label_ends: Vec<usize>,
    /// The latest sample line's label set as text, from its `{` to the end of the line;
    /// empty when its pairs may not be reused (not lexed yet, or failed, or the metric
    /// name was inside the braces).
    label_text: &'a str,
    /// Leading pairs of the latest sample line taken over from the previous one.
    reused: usize,
    /// The latest sample line's metric name when it was written unquoted, else empty.
    name: &'a str,
    /// Whether that name was the previous sample line's, found by [`Cursor::same_name`].
    name_repeated: bool,
    /// Whether to reuse the previous line's name and pairs (off only to test that reuse
    /// changes nothing).
    reuse: bool,
    exemplar_labels: Vec<LabelPair<'a>>,
    eof_seen: bool,
}

/// A position-tagged error before it is turned into line and column.
struct At(usize, ParseErrorKind);

type LexResult<T> = Result<T, At>;

impl<'a> Lexer<'a> {
    /// A lexer over UTF-8 input. Use [`Lexer::from_bytes`] for unchecked bytes.
    pub fn new(input: &'a str, format: Format) -> Self {
        Self {
            input,
            format,
            next: 0,
            line_start: 0,
            line: 0,
            labels: Vec::new(),
            label_ends: Vec::new(),
            label_text: "",
            reused: 0,
            name: "",
            name_repeated: false,
            reuse: true,
            exemplar_labels: Vec::new(),
            eof_seen: false,
        }
    }

    /// A lexer over raw bytes; invalid UTF-8 is an error naming its line and column.
    pub fn from_bytes(input: &'a [u8], format: Format) -> Result<Self, ParseError> {
        match std::str::from_utf8(input) {
            Ok(s) => Ok(Self::new(s, format)),
            Err(e) => {
                let valid = &input[..e.valid_up_to()];
                let line_start = memchr::memrchr(b'\n', valid).map_or(0, |i| i + 1);
                let line = memchr::memchr_iter(b'\n', valid).count() + 1;
                // The prefix is valid UTF-8, so this cannot fail; fall back to bytes anyway.
                let column = std::str::from_utf8(&valid[line_start..])
                    .map_or(valid.len() - line_start, |s| s.chars().count())
                    + 1;
                Err(ParseError {
                    line,
                    column,
                    kind: ParseErrorKind::InvalidUtf8,
                })
            }
        }
    }

    /// This lexer, lexing every line in full instead of reusing the previous sample line's
    /// metric name and label pairs. The entries are the same either way; this is slower
    /// and exists so tests can show that.
    pub(crate) fn without_reuse(mut self) -> Self {
        self.reuse = false;
        self
    }

    /// The format being lexed.
    pub fn format(&self) -> Format {
        self.format
    }

    /// 1-based number of the line of the latest entry.
    pub fn line(&self) -> usize {
        self.line
    }

    /// The labels of the latest sample line, in the order written.
    pub fn labels(&self) -> &[LabelPair<'a>] {
        &self.labels
    }

    /// How many leading pairs of [`Lexer::labels`] the latest sample line has in common,
    /// as text, with the sample line lexed before it (0 for the first). When it is `k`,
    /// the first `k` pairs of both lines are equal, in the same order.
    pub fn reused_labels(&self) -> usize {
        self.reused
    }

    /// Whether the latest sample line's metric name is, as text, the one of the sample line
    /// lexed before it.
    pub fn name_repeated(&self) -> bool {
        self.name_repeated
    }

    /// The labels of the latest sample line's exemplar.
    pub fn exemplar_labels(&self) -> &[LabelPair<'a>] {
        &self.exemplar_labels
    }

    /// An error at column 1 of the latest line, for problems found above the lexer.
    pub fn error(&self, kind: ParseErrorKind) -> ParseError {
        ParseError {
            line: self.line.max(1),
            column: 1,
            kind,
        }
    }

    /// An error naming a label that appears twice on the latest line, at its second
    /// occurrence. Duplicates are found by the parser, which sorts the labels anyway; the
    /// lexer only locates them for the message.
    pub fn error_at_duplicate_label(&self, name: &str) -> ParseError {
        let end = self.next.min(self.input.len());
        let line = &self.input[self.line_start..end];
        let bytes = line.as_bytes();
        let is_label_at = |i: usize| {
            let before_ok = i > 0 && matches!(bytes[i - 1], b'{' | b',' | b' ' | b'\t' | b'"');
            let after = line[i + name.len()..].trim_start_matches([' ', '\t', '"']);
            before_ok && after.starts_with('=')
        };
        let column = line
            .match_indices(name)
            .map(|(i, _)| i)
            .filter(|&i| is_label_at(i))
            .nth(1)
            .map_or(1, |i| line[..i].chars().count() + 1);
        ParseError {
            line: self.line.max(1),
            column,
            kind: ParseErrorKind::DuplicateLabel(name.to_owned()),
        }
    }

    /// An error at the end of the input (for a missing `# EOF`).
    pub fn error_at_end(&self, kind: ParseErrorKind) -> ParseError {
        let lines = memchr::memchr_iter(b'\n', self.input.as_bytes()).count();
        let tail =
            &self.input[memchr::memrchr(b'\n', self.input.as_bytes()).map_or(0, |i| i + 1)..];
        ParseError {
            line: lines + 1,
            column: tail.chars().count() + 1,
            kind,
        }
    }

    fn to_error(&self, at: At) -> ParseError {
        let line_text = &self.input[self.line_start..];
        let offset = at.0.min(line_text.len());
        let column = line_text
            .get(..offset)
            .map_or(offset, |s| s.chars().count())
            + 1;
        ParseError {
            line: self.line,
            column,
            kind: at.1,
        }
    }

    /// The next entry, `None` at the end of the input.
    pub fn next_entry(&mut self) -> Result<Option<Entry<'a>>, ParseError> {
        if self.next >= self.input.len() {
            return Ok(None);
        }
        let rest = &self.input[self.next..];
        let len = memchr::memchr(b'\n', rest.as_bytes()).unwrap_or(rest.len());
        let line = &rest[..len];
        self.line_start = self.next;
        self.next += len + 1;
        self.line += 1;
        if self.eof_seen {
            return Err(self.to_error(At(0, ParseErrorKind::DataAfterEof)));
        }
        let entry = match self.format {
            Format::Text => self.lex_text_line(line),
            Format::OpenMetrics => self.lex_openmetrics_line(line),
        };
        match entry {
            Ok(Entry::Eof) => {
                self.eof_seen = true;
                Ok(Some(Entry::Eof))
            }
            Ok(entry) => Ok(Some(entry)),
            Err(at) => Err(self.to_error(at)),
        }
    }

    fn lex_text_line(&mut self, line: &'a str) -> LexResult<Entry<'a>> {
        let mut c = Cursor::new(line, Format::Text);
        c.skip_blanks();
        match c.peek() {
            None => Ok(Entry::Comment),
            Some(b'#') => {
                c.pos += 1;
                c.skip_blanks();
                let start = c.pos;
                let word = c.take_while(|b| b != b' ' && b != b'\t');
                match word {
                    "HELP" | "TYPE" if c.peek().is_some() => {
                        c.skip_blanks();
                        self.lex_metadata(c, word, start)
                    }
                    _ => Ok(Entry::Comment),
                }
            }
            Some(_) => self.lex_sample(c),
        }
    }

    fn lex_openmetrics_line(&mut self, line: &'a str) -> LexResult<Entry<'a>> {
        let mut c = Cursor::new(line, Format::OpenMetrics);
        match c.peek() {
            None => Err(At(0, unexpected("a metric or a # line", "an empty line"))),
            Some(b'#') => {
                if line == "# EOF" {
                    return Ok(Entry::Eof);
                }
                c.expect_str("# ", "\"# \"")?;
                let start = c.pos;
                let word = c.take_while(|b| b != b' ');
                match word {
                    "HELP" | "TYPE" | "UNIT" => {
                        c.expect_separator()?;
                        self.lex_metadata(c, word, start)
                    }
                    _ => Err(At(
                        start,
                        unexpected("HELP, TYPE, UNIT or EOF", excerpt(&line[start..])),
                    )),
                }
            }
            Some(_) => self.lex_sample(c),
        }
    }

    /// Lexes what follows `# HELP `, `# TYPE ` or `# UNIT `.
    fn lex_metadata(
        &mut self,
        mut c: Cursor<'a>,
        word: &'a str,
        word_start: usize,
    ) -> LexResult<Entry<'a>> {
        let name = c.metric_name_token()?;
        match word {
            "HELP" => {
                let text = if c.at_end() {
                    Cow::Borrowed("")
                } else if self.format == Format::OpenMetrics {
                    // One space separates; any further spaces belong to the text.
                    c.expect_str(" ", "a space")?;
                    c.help_text()?
                } else {
                    c.expect_separator()?;
                    c.help_text()?
                };
                Ok(Entry::Help { name, text })
            }
            "TYPE" => {
                c.expect_separator()?;
                let start = c.pos;
                let word = c.take_while(|b| b != b' ' && b != b'\t');
                let metric_type = match self.format {
                    Format::Text => MetricType::from_text_name(word),
                    Format::OpenMetrics => MetricType::from_openmetrics_name(word),
                }
                .ok_or_else(|| At(start, ParseErrorKind::UnknownType(word.to_owned())))?;
                c.expect_line_end()?;
                Ok(Entry::Type { name, metric_type })
            }
            "UNIT" => {
                let unit = if c.at_end() {
                    ""
                } else {
                    c.expect_separator()?;
                    let start = c.pos;
                    let unit = c.take_while(|b| b != b' ' && b != b'\t');
                    if !unit
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b':')
                    {
                        return Err(At(start, invalid_name("unit", unit)));
                    }
                    unit
                };
                c.expect_line_end()?;
                Ok(Entry::Unit {
                    name,
                    unit: Cow::Borrowed(unit),
                })
            }
            _ => Err(At(word_start, unexpected("HELP, TYPE or UNIT", word))),
        }
    }

    fn lex_sample(&mut self, mut c: Cursor<'a>) -> LexResult<Entry<'a>> {
        self.exemplar_labels.clear();
        let name = self.lex_series(&mut c)?;
        if c.at_end() {
            return Err(At(c.pos, unexpected("a sample value", "end of line")));
        }
        c.expect_separator()?;
        let value = match c.small_integer() {
            Some(value) => value,
            None => {
                let start = c.pos;
                let token = c.token();
                parse_float(token).ok_or_else(|| At(start, invalid_value(token, &c, start)))?
            }
        };
        let mut line = SampleLine {
            name,
            value,
            timestamp_ms: None,
            exemplar: None,
        };
        if c.at_end() {
            return Ok(Entry::Sample(line));
        }
        c.expect_separator()?;
        if c.at_end() && self.format == Format::Text {
            return Ok(Entry::Sample(line));
        }
        if c.peek() != Some(b'#') {
            let start = c.pos;
            let token = c.token();
            line.timestamp_ms = match self.format {
                Format::Text => parse_ms(token),
                Format::OpenMetrics => parse_seconds_to_ms(token),
            };
            if line.timestamp_ms.is_none() {
                return Err(At(
                    start,
                    ParseErrorKind::InvalidTimestamp(token.to_owned()),
                ));
            }
            if c.at_end() {
                return Ok(Entry::Sample(line));
            }
            c.expect_separator()?;
            if c.at_end() && self.format == Format::Text {
                return Ok(Entry::Sample(line));
            }
        }
        if self.format == Format::Text || c.peek() != Some(b'#') {
            return Err(At(c.pos, unexpected("end of line", c.found())));
        }
        line.exemplar = Some(self.lex_exemplar(c)?);
        Ok(Entry::Sample(line))
    }

    /// Lexes a sample line's metric name and labels (into `labels`), reusing what the
    /// previous sample line's text shares with this one's (see the module documentation).
    fn lex_series(&mut self, c: &mut Cursor<'a>) -> LexResult<Cow<'a, str>> {
        // The previous line's pairs stay in `labels` until the label set is reached, which
        // decides how many of them to keep.
        let mut previous_text = std::mem::take(&mut self.label_text);
        let mut previous_name = std::mem::take(&mut self.name);
        if !self.reuse {
            (previous_text, previous_name) = ("", "");
        }
        self.reused = 0;
        self.name_repeated = false;
        let mut name = None;
        if c.peek() != Some(b'{') {
            let quoted = c.peek() == Some(b'"');
            let token = match c.same_name(previous_name) {
                Some(same) => {
                    self.name_repeated = true;
                    Cow::Borrowed(same)
                }
                None => c.metric_name_token()?,
            };
            if let (false, Cow::Borrowed(unquoted)) = (quoted, &token) {
                self.name = unquoted;
            }
            name = Some(token);
            if self.format == Format::Text {
                // `name {labels}` is valid text format; keep the blank if no `{` follows.
                let before = c.pos;
                c.skip_blanks();
                if c.peek() != Some(b'{') {
                    c.pos = before;
                }
            }
        }
        let braces = c.peek() == Some(b'{');
        if braces && name.is_some() {
            let text = &c.line[c.pos..];
            let keep = self.reusable_pairs(previous_text, text);
            self.labels.truncate(keep);
            self.label_ends.truncate(keep);
            self.reused = keep;
            let resume = keep.checked_sub(1).map(|last| self.label_ends[last]);
            c.label_set(&mut self.labels, Some(&mut self.label_ends), false, resume)?;
            self.label_text = text;
        } else {
            self.labels.clear();
            self.label_ends.clear();
        }
        if braces && name.is_none() {
            let start = c.pos;
            match c.label_set(&mut self.labels, None, true, None)? {
                Some(quoted) => name = Some(quoted),
                None => return Err(At(start, unexpected("a metric name", "\"{\""))),
            }
        }
        name.ok_or_else(|| At(c.pos, unexpected("a metric name", c.found())))
    }

    /// How many of the previous sample line's pairs (still in `labels`) lie wholly within
    /// the common prefix of its label-set text and this line's.
    fn reusable_pairs(&self, previous: &str, text: &str) -> usize {
        if previous.is_empty() {
            return 0;
        }
        let same = common_prefix(previous.as_bytes(), text.as_bytes());
        self.label_ends
            .iter()
            .take_while(|&&end| end <= same)
            .count()
    }

    /// Lexes ` # {labels} value [timestamp]` (the cursor is at `#`).
    fn lex_exemplar(&mut self, mut c: Cursor<'a>) -> LexResult<(f64, Option<f64>)> {
        c.expect_str("# ", "\"# \" before an exemplar")?;
        if c.peek() != Some(b'{') {
            return Err(At(
                c.pos,
                unexpected("\"{\" opening exemplar labels", c.found()),
            ));
        }
        if c.label_set(&mut self.exemplar_labels, None, false, None)?
            .is_some()
        {
            return Err(At(
                c.pos,
                ParseErrorKind::InvalidExemplar("exemplar with a metric name"),
            ));
        }
        c.expect_separator()?;
        let start = c.pos;
        let token = c.token();
        let value = parse_float(token).ok_or_else(|| At(start, invalid_value(token, &c, start)))?;
        let mut timestamp = None;
        if !c.at_end() {
            c.expect_separator()?;
            let start = c.pos;
            let token = c.token();
            timestamp = Some(
                parse_float(token)
                    .filter(|t| t.is_finite())
                    .ok_or_else(|| At(start, ParseErrorKind::InvalidTimestamp(token.to_owned())))?,
            );
            c.expect_line_end()?;
        }
        Ok((value, timestamp))
    }
}

fn unexpected(expected: &'static str, found: impl Into<String>) -> ParseErrorKind {
    ParseErrorKind::Unexpected {
        expected,
        found: found.into(),
    }
}

fn invalid_name(what: &'static str, name: &str) -> ParseErrorKind {
    ParseErrorKind::InvalidName {
        what,
        name: name.to_owned(),
    }
}

fn invalid_value(token: &str, c: &Cursor<'_>, start: usize) -> ParseErrorKind {
    if token.is_empty() {
        unexpected("a sample value", c.found_at(start))
    } else {
        ParseErrorKind::InvalidValue(token.to_owned())
    }
}

/// A short, printable excerpt of what was found, for error messages.
fn excerpt(s: &str) -> String {
    if s.is_empty() {
        return "end of line".to_owned();
    }
    let cut: String = s.chars().take(16).collect();
    if cut.len() < s.len() {
        format!("{:?}...", cut)
    } else {
        format!("{cut:?}")
    }
}

/// Character classes for name scanning, one table lookup per byte.
const LABEL_CHAR: u8 = 1;
const METRIC_CHAR: u8 = 2;
static CLASS: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        if c.is_ascii_alphanumeric() || c == b'_' {
            t[b] = LABEL_CHAR | METRIC_CHAR;
        } else if c == b':' {
            t[b] = METRIC_CHAR;
        }
        b += 1;
    }
    t
};

/// Eight bytes of `s` from `i` as one little-endian word (the caller checks the length).
#[inline]
fn word(s: &[u8], i: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&s[i..i + 8]);
    u64::from_le_bytes(w)
}

/// The first `"` or `\\` in `bytes`, eight bytes at a time: label values are short, where
/// this beats the set-up of a vectorised search.
///
/// `(x - 0x01..01) & !x & 0x80..80` flags the zero bytes of `x`; it may also flag a byte
/// just above a zero byte (a borrow), but never one below the first, so the lowest flag
/// is exact.
fn find_quote_or_backslash(bytes: &[u8]) -> Option<usize> {
    const ONES: u64 = u64::from_le_bytes([1; 8]);
    const HIGH: u64 = u64::from_le_bytes([0x80; 8]);
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGH;
    let mut i = 0;
    while i + 8 <= bytes.len() {
        let w = word(bytes, i);
        let found =
            zero_bytes(w ^ (ONES * u64::from(b'"'))) | zero_bytes(w ^ (ONES * u64::from(b'\\')));
        if found != 0 {
            return Some(i + (found.trailing_zeros() / 8) as usize);
        }
        i += 8;
    }
    let tail = &bytes[i..];
    tail.iter()
        .position(|&b| b == b'"' || b == b'\\')
        .map(|p| i + p)
}

/// The length of the longest common prefix of `a` and `b`, compared eight bytes at a time.
fn common_prefix(a: &[u8], b: &[u8]) -> usize {
    let n = a.len().min(b.len());
    let mut i = 0;
    while i + 8 <= n {
        let diff = word(a, i) ^ word(b, i);
        if diff != 0 {
            return i + (diff.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while i < n && a[i] == b[i] {
        i += 1;
    }
    i
}

/// A position within one line.
struct Cursor<'a> {
    line: &'a str,
    pos: usize,
    format: Format,
}

impl<'a> Cursor<'a> {
    fn new(line: &'a str, format: Format) -> Self {
        Self {
            line,
            pos: 0,
            format,
        }
    }

    fn bytes(&self) -> &'a [u8] {
        self.line.as_bytes()
    }

    fn peek(&self) -> Option<u8> {
        self.bytes().get(self.pos).copied()
    }

    fn at_end(&self) -> bool {
        self.pos >= self.line.len()
    }

    fn found(&self) -> String {
        self.found_at(self.pos)
    }

    fn found_at(&self, pos: usize) -> String {
        excerpt(self.line.get(pos..).unwrap_or(""))
    }

    fn skip_blanks(&mut self) {
        while matches!(self.peek(), Some(b' ' | b'\t')) {
            self.pos += 1;
        }
    }

    /// One space in OpenMetrics, one or more spaces or tabs in text.
    fn expect_separator(&mut self) -> LexResult<()> {
        match (self.format, self.peek()) {
            (Format::OpenMetrics, Some(b' ')) => {
                self.pos += 1;
                if self.peek() == Some(b' ') {
                    return Err(At(self.pos, unexpected("a single space", "a second space")));
                }
                Ok(())
            }
            (Format::Text, Some(b' ' | b'\t')) => {
                self.skip_blanks();
                Ok(())
            }
            _ => Err(At(self.pos, unexpected("a space", self.found()))),
        }
    }

    fn expect_str(&mut self, s: &str, what: &'static str) -> LexResult<()> {
        if self.line[self.pos..].starts_with(s) {
            self.pos += s.len();
            Ok(())
        } else {
            Err(At(self.pos, unexpected(what, self.found())))
        }
    }

    /// End of line, after optional trailing blanks in the text format.
    fn expect_line_end(&mut self) -> LexResult<()> {
        if self.format == Format::Text {
            self.skip_blanks();
        }
        if self.at_end() {
            Ok(())
        } else {
            Err(At(self.pos, unexpected("end of line", self.found())))
        }
    }

    fn take_while(&mut self, keep: impl Fn(u8) -> bool) -> &'a str {
        let start = self.pos;
        let rest = &self.bytes()[start..];
        let len = rest.iter().position(|&b| !keep(b)).unwrap_or(rest.len());
        self.pos = start + len;
        // Only ASCII bytes stop the scan, so both ends sit on character boundaries.
        &self.line[start..self.pos]
    }

    /// The longest run of bytes of character class `class` (see [`CLASS`]).
    fn take_class(&mut self, class: u8) -> &'a str {
        let bytes = self.bytes();
        let start = self.pos;
        let mut end = start;
        while end < bytes.len() && CLASS[bytes[end] as usize] & class != 0 {
            end += 1;
        }
        self.pos = end;
        // Only ASCII bytes are in a class, so both ends sit on character boundaries.
        &self.line[start..end]
    }

    /// A token up to the next blank.
    fn token(&mut self) -> &'a str {
        self.take_while(|b| b != b' ' && b != b'\t')
    }

    /// A token of one to 15 digits, read as a number in one pass: what [`parse_float`]
    /// makes of such a [`Cursor::token`] (most sample values are counts). `None`, with the
    /// cursor unmoved, for any other token.
    fn small_integer(&mut self) -> Option<f64> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut end = start;
        let mut n: u64 = 0;
        while let Some(&b) = bytes.get(end).filter(|b| b.is_ascii_digit()) {
            if end - start == 15 {
                return None;
            }
            n = n * 10 + u64::from(b - b'0');
            end += 1;
        }
        if end == start || !matches!(bytes.get(end), None | Some(b' ' | b'\t')) {
            return None;
        }
        self.pos = end;
        Some(n as f64)
    }

    /// `name`, the previous sample line's unquoted metric name, when this line starts with
    /// it followed by a blank or `{`: what [`Cursor::metric_name_token`] would return
    /// (`name` was valid, and the byte after it ends a name), found by one comparison.
    fn same_name(&mut self, name: &'a str) -> Option<&'a str> {
        let rest = &self.bytes()[self.pos..];
        let n = name.len();
        if n == 0
            || !matches!(rest.get(n), Some(b' ' | b'\t' | b'{'))
            || common_prefix(name.as_bytes(), rest) < n
        {
            return None;
        }
        let token = &self.line[self.pos..self.pos + n];
        self.pos += n;
        Some(token)
    }

    /// A metric name: legacy characters, or a quoted UTF-8 name.
    fn metric_name_token(&mut self) -> LexResult<Cow<'a, str>> {
        let start = self.pos;
        if self.peek() == Some(b'"') {
            let name = self.quoted()?;
            if name.is_empty() {
                return Err(At(start, invalid_name("metric name", "")));
            }
            return Ok(name);
        }
        let name = self.take_class(METRIC_CHAR);
        if name.is_empty() {
            return Err(At(start, unexpected("a metric name", self.found())));
        }
        // The scan admitted only legacy characters; only a leading digit is left to refuse.
        if name.as_bytes()[0].is_ascii_digit() {
            return Err(At(start, invalid_name("metric name", name)));
        }
        if let Some(b) = self.peek() {
            if !matches!(b, b' ' | b'\t' | b'{') {
                let end = self.line[self.pos..]
                    .find([' ', '\t', '{'])
                    .map_or(self.line.len(), |i| self.pos + i);
                return Err(At(
                    start,
                    invalid_name("metric name", &self.line[start..end]),
                ));
            }
        }
        Ok(Cow::Borrowed(name))
    }

    /// A double-quoted string with `\\`, `\"` and `\n` escapes; the cursor is at `"`.
    fn quoted(&mut self) -> LexResult<Cow<'a, str>> {
        self.pos += 1;
        let start = self.pos;
        let rest = &self.bytes()[start..];
        let Some(stop) = find_quote_or_backslash(rest) else {
            self.pos = self.line.len();
            return Err(At(self.pos, unexpected("a closing '\"'", "end of line")));
        };
        if rest[stop] == b'"' {
            self.pos = start + stop + 1;
            return Ok(Cow::Borrowed(&self.line[start..start + stop]));
        }
        let mut out = String::with_capacity(stop + 16);
        out.push_str(&self.line[start..start + stop]);
        self.pos = start + stop;
        loop {
            let rest = &self.bytes()[self.pos..];
            let Some(stop) = find_quote_or_backslash(rest) else {
                self.pos = self.line.len();
                return Err(At(self.pos, unexpected("a closing '\"'", "end of line")));
            };
            out.push_str(&self.line[self.pos..self.pos + stop]);
            self.pos += stop;
            if rest[stop] == b'"' {
                self.pos += 1;
                return Ok(Cow::Owned(out));
            }
            let escape_at = self.pos;
            self.pos += 1;
            match self.peek() {
                Some(b'\\') => out.push('\\'),
                Some(b'"') => out.push('"'),
                Some(b'n') => out.push('\n'),
                _ => return Err(At(escape_at, self.bad_escape(escape_at))),
            }
            self.pos += 1;
        }
    }

    fn bad_escape(&self, at: usize) -> ParseErrorKind {
        match self.line[at + 1..].chars().next() {
            Some(ch) => ParseErrorKind::InvalidEscape(ch),
            None => unexpected("an escaped character", "end of line"),
        }
    }

    /// Help text to the end of the line, unescaped.
    fn help_text(&mut self) -> LexResult<Cow<'a, str>> {
        let text = &self.line[self.pos..];
        if !text.contains('\\') {
            self.pos = self.line.len();
            return Ok(Cow::Borrowed(text));
        }
        let mut out = String::with_capacity(text.len());
        let mut chars = text.char_indices();
        while let Some((i, ch)) = chars.next() {
            if ch != '\\' {
                out.push(ch);
                continue;
            }
            match chars.next() {
                Some((_, '\\')) => out.push('\\'),
                Some((_, 'n')) => out.push('\n'),
                Some((_, '"')) if self.format == Format::OpenMetrics => out.push('"'),
                Some((_, other)) => {
                    return Err(At(self.pos + i, ParseErrorKind::InvalidEscape(other)))
                }
                None => {
                    return Err(At(
                        self.pos + i,
                        unexpected("an escaped character", "end of line"),
                    ))
                }
            }
        }
        self.pos = self.line.len();
        Ok(Cow::Owned(out))
    }

    /// `{name="value", ...}`; the cursor is at `{`. Pairs go into `out`, and where each
    /// ends (relative to the `{`) into `ends` when given. When `name_allowed`, a lone
    /// quoted string is the metric name and is returned.
    ///
    /// With `resume`, the pairs up to that offset are already in `out` (see
    /// [`Lexer::reusable_pairs`]) and lexing goes on from there, as it would have after
    /// lexing them.
    fn label_set(
        &mut self,
        out: &mut Vec<LabelPair<'a>>,
        mut ends: Option<&mut Vec<usize>>,
        name_allowed: bool,
        resume: Option<usize>,
    ) -> LexResult<Option<Cow<'a, str>>> {
        let text = self.format == Format::Text;
        let open = self.pos;
        self.pos += 1;
        let mut metric_name = None;
        let mut first = true;
        let mut after_pair = false;
        if let Some(offset) = resume {
            self.pos = open + offset;
            first = false;
            after_pair = true;
        }
        loop {
            if !after_pair {
                if let Some(end) = self.plain_pair(out) {
                    if let Some(ends) = ends.as_deref_mut() {
                        ends.push(end - open);
                    }
                    first = false;
                    after_pair = true;
                }
            }
            if !after_pair {
                if text {
                    self.skip_blanks();
                }
                if self.peek() == Some(b'}') && (text || first) {
                    self.pos += 1;
                    return Ok(metric_name);
                }
                let start = self.pos;
                let (name, quoted) = match self.peek() {
                    Some(b'"') => (self.quoted()?, true),
                    _ => (Cow::Borrowed(self.take_class(LABEL_CHAR)), false),
                };
                if text {
                    self.skip_blanks();
                }
                if quoted && first && name_allowed && matches!(self.peek(), Some(b',' | b'}')) {
                    if name.is_empty() {
                        return Err(At(start, invalid_name("metric name", "")));
                    }
                    metric_name = Some(name);
                } else {
                    self.label_pair(out, name, quoted, start)?;
                    if let Some(ends) = ends.as_deref_mut() {
                        ends.push(self.pos - open);
                    }
                }
                first = false;
            }
            after_pair = false;
            if text {
                self.skip_blanks();
            }
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(metric_name);
                }
                _ => return Err(At(self.pos, unexpected("',' or '}'", self.found()))),
            }
        }
    }

    /// A pair in its plainest spelling, `name="value"` with a legacy name and no escape,
    /// lexed in one go; the cursor is at the name. `None` (with the cursor unmoved) for
    /// anything else, which [`Cursor::label_set`]'s general path then lexes, and for a
    /// reserved name, which it reports. For the plain spelling both ways give the same
    /// pair. Returns where the pair ends.
    fn plain_pair(&mut self, out: &mut Vec<LabelPair<'a>>) -> Option<usize> {
        let bytes = self.bytes();
        let start = self.pos;
        let mut eq = start;
        while eq < bytes.len() && CLASS[bytes[eq] as usize] & LABEL_CHAR != 0 {
            eq += 1;
        }
        if eq == start || bytes[start].is_ascii_digit() || bytes.get(eq..eq + 2) != Some(b"=\"") {
            return None;
        }
        let name = &self.line[start..eq];
        if name == "__name__" {
            return None;
        }
        let value_start = eq + 2;
        let len = find_quote_or_backslash(&bytes[value_start..])?;
        let end = value_start + len;
        if bytes[end] != b'"' {
            return None;
        }
        out.push((
            Cow::Borrowed(name),
            Cow::Borrowed(&self.line[value_start..end]),
        ));
        self.pos = end + 1;
        Some(self.pos)
    }

    /// The `="value"` part of a label, checking the name it follows.
    fn label_pair(
        &mut self,
        out: &mut Vec<LabelPair<'a>>,
        name: Cow<'a, str>,
        quoted: bool,
        start: usize,
    ) -> LexResult<()> {
        if name.is_empty() {
            return Err(if quoted {
                At(start, invalid_name("label name", ""))
            } else {
                At(start, unexpected("a label name", self.found_at(start)))
            });
        }
        // An unquoted name was scanned as legacy characters; only a leading digit is left.
        if !quoted && name.as_bytes()[0].is_ascii_digit() {
            return Err(At(start, invalid_name("label name", &name)));
        }
        if name == "__name__" {
            return Err(At(start, ParseErrorKind::ReservedLabel(name.into_owned())));
        }
        if self.peek() != Some(b'=') {
            return Err(At(self.pos, unexpected("'='", self.found())));
        }
        self.pos += 1;
        if self.format == Format::Text {
            self.skip_blanks();
        }
        if self.peek() != Some(b'"') {
            return Err(At(
                self.pos,
                unexpected("'\"' opening a label value", self.found()),
            ));
        }
        let value = self.quoted()?;
        out.push((name, value));
        Ok(())
    }
}

#[cfg(test)]
mod tests;
