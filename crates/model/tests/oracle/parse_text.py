"""Parses an exposition with the official Python client and prints it as normalized JSON.

Usage: parse_text.py text|openmetrics < exposition

Used by crates/model/tests/oracle.rs as an independent reader of what tally's encoder
writes. The output is one JSON array of families:

    {"name", "type", "help", "unit",
     "samples": [{"name", "labels", "value", "timestamp_ms", "exemplar"}]}

Numbers that must compare exactly are printed as strings (repr of the float, which
reads back to the same double) so that NaN and the infinities survive JSON; the Rust side
canonicalizes them. Sample timestamps become integer milliseconds; exemplar timestamps
stay decimal strings. Exits 2 with a message on stderr when the client is missing and 1
when the input does not parse.
"""

import json
import sys

try:
    from prometheus_client.openmetrics.parser import (
        text_string_to_metric_families as parse_openmetrics,
    )
    from prometheus_client.parser import text_string_to_metric_families as parse_text
    from prometheus_client.samples import Timestamp
except ImportError as err:  # pragma: no cover - environment problem, reported to Rust
    print(f"prometheus_client is not importable: {err}", file=sys.stderr)
    sys.exit(2)


def number(value):
    return repr(float(value))


def timestamp_ms(ts):
    if ts is None:
        return None
    if isinstance(ts, Timestamp):
        return ts.sec * 1000 + ts.nsec // 1_000_000
    return round(float(ts) * 1000)


def timestamp_text(ts):
    if ts is None:
        return None
    if isinstance(ts, Timestamp):
        return str(ts)
    return number(ts)


def exemplar(ex):
    if ex is None:
        return None
    return {
        "labels": dict(ex.labels),
        "value": number(ex.value),
        "timestamp": timestamp_text(ex.timestamp),
    }


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("text", "openmetrics"):
        print("usage: parse_text.py text|openmetrics < exposition", file=sys.stderr)
        sys.exit(64)
    parse = parse_text if sys.argv[1] == "text" else parse_openmetrics
    data = sys.stdin.buffer.read().decode("utf-8")
    try:
        families = list(parse(data))
    except Exception as err:  # the parsers raise bare ValueError and friends
        print(f"parse error: {err!r}", file=sys.stderr)
        sys.exit(1)
    out = []
    for family in families:
        out.append({
            "name": family.name,
            "type": family.type,
            "help": family.documentation,
            "unit": family.unit,
            "samples": [
                {
                    "name": s.name,
                    "labels": dict(s.labels),
                    "value": number(s.value),
                    "timestamp_ms": timestamp_ms(s.timestamp),
                    "exemplar": exemplar(s.exemplar),
                }
                for s in family.samples
            ],
        })
    json.dump(out, sys.stdout, indent=1, sort_keys=True, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
