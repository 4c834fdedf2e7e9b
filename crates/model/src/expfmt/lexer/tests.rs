use super::*;

fn lex_all(input: &str, format: Format) -> Result<Vec<String>, ParseError> {
    let mut lexer = Lexer::new(input, format);
    let mut out = Vec::new();
    while let Some(entry) = lexer.next_entry()? {
        out.push(match entry {
            Entry::Sample(s) => format!(
                "{}{:?}={}@{:?}ex{:?}{:?}",
                s.name,
                lexer.labels(),
                s.value,
                s.timestamp_ms,
                s.exemplar,
                lexer.exemplar_labels()
            ),
            other => format!("{other:?}"),
        });
    }
    Ok(out)
}

fn err(input: &str, format: Format) -> (usize, usize, String) {
    let e = lex_all(input, format).unwrap_err();
    (e.line, e.column, e.kind.to_string())
}

#[test]
fn text_sample_lines() {
    let out = lex_all(
        "a 1\nb{x=\"1\",y=\"q\\\"\\n\\\\\"} 2 1000\n  c\t{ z = \"3\" , } -Inf \n",
        Format::Text,
    )
    .unwrap();
    assert_eq!(out[0], "a[]=1@NoneexNone[]");
    assert_eq!(
        out[1],
        r#"b[("x", "1"), ("y", "q\"\n\\")]=2@Some(1000)exNone[]"#
    );
    assert_eq!(out[2], r#"c[("z", "3")]=-inf@NoneexNone[]"#);
}

#[test]
fn labels_are_borrowed_unless_escaped() {
    let mut lexer = Lexer::new("a{x=\"plain\",y=\"es\\\\c\"} 1\n", Format::Text);
    lexer.next_entry().unwrap();
    assert!(matches!(lexer.labels()[0].1, Cow::Borrowed("plain")));
    assert!(matches!(&lexer.labels()[1].1, Cow::Owned(s) if s == "es\\c"));
}

#[test]
fn utf8_quoted_names() {
    let out = lex_all("{\"my.metric\", \"la.bel\"=\"v\"} 1\n", Format::Text).unwrap();
    assert_eq!(out[0], r#"my.metric[("la.bel", "v")]=1@NoneexNone[]"#);
    let out = lex_all("# TYPE \"my.metric\" gauge\n", Format::Text).unwrap();
    assert_eq!(out[0], r#"Type { name: "my.metric", metric_type: Gauge }"#);
}

#[test]
fn text_metadata_and_comments() {
    let out = lex_all(
        "# HELP a Some \\\\ help\\n.\n# TYPE a counter\n# just a comment\n\n#\n",
        Format::Text,
    )
    .unwrap();
    assert_eq!(out[0], r#"Help { name: "a", text: "Some \\ help\n." }"#);
    assert_eq!(out[1], r#"Type { name: "a", metric_type: Counter }"#);
    assert_eq!(out[2..], ["Comment", "Comment", "Comment"]);
}

#[test]
fn openmetrics_lines() {
    let out = lex_all(
        "# TYPE a counter\n# UNIT a_seconds seconds\na_total{x=\"1\"} 2 1.5 # {trace_id=\"t\"} 0.5 1.25\n# EOF\n",
        Format::OpenMetrics,
    )
    .unwrap();
    assert_eq!(
        out[2],
        r#"a_total[("x", "1")]=2@Some(1500)exSome((0.5, Some(1.25)))[("trace_id", "t")]"#
    );
    assert_eq!(out[3], "Eof");
}

#[test]
fn errors_name_line_and_column() {
    assert_eq!(
        err("a 1\nb{x=\"1\" y=\"2\"} 1\n", Format::Text),
        (2, 9, "expected ',' or '}', found \"y=\\\"2\\\"} 1\"".into())
    );
    assert_eq!(err("a{x=\"1} 2\n", Format::Text).0, 1);
    assert_eq!(
        err("a 1 2 3\n", Format::Text),
        (1, 7, "expected end of line, found \"3\"".into())
    );
    assert_eq!(
        err("a one\n", Format::Text),
        (1, 3, "invalid sample value \"one\"".into())
    );
    assert_eq!(
        err("a 1 x\n", Format::Text),
        (1, 5, "invalid timestamp \"x\"".into())
    );
    assert_eq!(
        err("a-b 1\n", Format::Text),
        (1, 1, "invalid metric name \"a-b\"".into())
    );
    assert_eq!(
        err("1a 1\n", Format::Text),
        (1, 1, "invalid metric name \"1a\"".into())
    );
    assert_eq!(
        err("a{x=\"\\t\"} 1\n", Format::Text),
        (1, 6, "invalid escape sequence \"\\t\"".into())
    );
    // Duplicate labels are the parser's to find (it sorts them anyway).
    assert!(lex_all("a{x=\"1\",x=\"2\"} 1\n", Format::Text).is_ok());
    assert_eq!(
        err("a{__name__=\"b\"} 1\n", Format::Text).2,
        "label \"__name__\" is not allowed here"
    );
    assert_eq!(
        err("a\n", Format::Text).2,
        "expected a sample value, found end of line"
    );
    assert_eq!(
        err("# TYPE a nope\n", Format::Text).2,
        "unknown metric type \"nope\""
    );
    // Columns count characters, not bytes.
    assert_eq!(err("a{x=\"é\" y} 1\n", Format::Text).1, 9);
}

#[test]
fn openmetrics_is_strict() {
    assert_eq!(
        err("\n", Format::OpenMetrics).2,
        "expected a metric or a # line, found an empty line"
    );
    assert_eq!(
        err("a  1\n", Format::OpenMetrics).2,
        "expected a single space, found a second space"
    );
    assert_eq!(
        err("# comment\n", Format::OpenMetrics).2,
        "expected HELP, TYPE, UNIT or EOF, found \"comment\""
    );
    assert_eq!(
        err("a{x=\"1\",} 1\n", Format::OpenMetrics).2,
        "expected a label name, found \"} 1\""
    );
    assert_eq!(
        err("# EOF\na 1\n", Format::OpenMetrics),
        (2, 1, "content after \"# EOF\"".into())
    );
    assert!(lex_all("a 1 # {x=\"1\"} 1\n", Format::Text).is_err());
}

#[test]
fn invalid_utf8_is_located() {
    let e = Lexer::from_bytes(b"a 1\nb{x=\"\xff\"} 1\n", Format::Text).unwrap_err();
    assert_eq!(
        (e.line, e.column, e.kind),
        (2, 6, ParseErrorKind::InvalidUtf8)
    );
}

#[test]
fn pairs_repeated_from_the_previous_sample_line_are_reused() {
    let input = "h_bucket{a=\"x\\\\\",b=\"2\",le=\"1\"} 1\n\
                 h_bucket{a=\"x\\\\\",b=\"2\",le=\"+Inf\"} 2\n\
                 # a comment does not matter\n\
                 h_sum {a=\"x\\\\\",b=\"2\"} 3\n\
                 h_sum\t{a=\"x\\\\\",b=\"22\"} 3\n\
                 h_sum{a=\"y\"} 3\n";
    let mut lexer = Lexer::new(input, Format::Text);
    let mut seen = Vec::new();
    while let Some(entry) = lexer.next_entry().unwrap() {
        if let Entry::Sample(s) = entry {
            let labels = format!("{:?}", lexer.labels());
            seen.push((s.name.into_owned(), lexer.reused_labels(), labels));
        }
    }
    let reused: Vec<usize> = seen.iter().map(|s| s.1).collect();
    assert_eq!(reused, [0, 2, 2, 1, 0]);
    assert_eq!(seen[1].2, r#"[("a", "x\\"), ("b", "2"), ("le", "+Inf")]"#);
    assert_eq!(seen[2].2, r#"[("a", "x\\"), ("b", "2")]"#);
    assert_eq!(seen[3].2, r#"[("a", "x\\"), ("b", "22")]"#);
    let names: Vec<&str> = seen.iter().map(|s| s.0.as_str()).collect();
    assert_eq!(names, ["h_bucket", "h_bucket", "h_sum", "h_sum", "h_sum"]);
}
