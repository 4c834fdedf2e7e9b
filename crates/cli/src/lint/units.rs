//! Units that may appear in metric names, and their base units, as promlint knows them.

/// Each unit and the base unit a metric should use instead; a unit that is its own base
/// is fine. Base units follow the Prometheus naming guide: seconds, bytes, meters, ...
const UNITS: &[(&str, &str)] = &[
    // Base units.
    ("amperes", "amperes"),
    ("bytes", "bytes"),
    ("celsius", "celsius"),
    ("grams", "grams"),
    ("joules", "joules"),
    ("kelvin", "kelvin"),
    ("meters", "meters"),
    ("metres", "metres"),
    ("seconds", "seconds"),
    ("volts", "volts"),
    // Time.
    ("minutes", "seconds"),
    ("hours", "seconds"),
    ("days", "seconds"),
    ("weeks", "seconds"),
    // Temperature.
    ("kelvins", "kelvin"),
    ("fahrenheit", "celsius"),
    ("rankine", "celsius"),
    // Length.
    ("inches", "meters"),
    ("yards", "meters"),
    ("miles", "meters"),
    // Information.
    ("bits", "bytes"),
    // Energy.
    ("calories", "joules"),
    // Mass.
    ("pounds", "grams"),
    ("ounces", "grams"),
];

/// SI and binary prefixes; a prefixed unit (`milliseconds`, `kibibytes`) is never a base.
const PREFIXES: &[&str] = &[
    "pico", "nano", "micro", "milli", "centi", "deci", "deca", "hecto", "kilo", "kibi", "mega",
    "mibi", "giga", "gibi", "tera", "tebi", "peta", "pebi",
];

/// Abbreviations that should be spelled out (`_ms` → `_seconds`, `_kb` → `_bytes`).
pub(super) const ABBREVIATIONS: &[&str] = &[
    "s", "ms", "us", "ns", "sec", "b", "kb", "mb", "gb", "tb", "pb", "m", "h", "d",
];

/// The first `_`-separated word of `name` that is a known unit, with or without a prefix,
/// and its base unit. Whole words only: `thermometers` is not `meters`.
pub(super) fn metric_unit(name: &str) -> Option<(&str, &'static str)> {
    name.split('_').find_map(|word| {
        if let Some(base) = base_of(word) {
            return Some((word, base));
        }
        PREFIXES
            .iter()
            .find_map(|p| word.strip_prefix(p).and_then(base_of))
            .map(|base| (word, base))
    })
}

fn base_of(unit: &str) -> Option<&'static str> {
    UNITS
        .iter()
        .find(|(u, _)| *u == unit)
        .map(|(_, base)| *base)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_units_by_whole_word() {
        assert_eq!(metric_unit("x_bytes_total"), Some(("bytes", "bytes")));
        assert_eq!(metric_unit("x_milligrams"), Some(("milligrams", "grams")));
        assert_eq!(metric_unit("x_kibibytes"), Some(("kibibytes", "bytes")));
        assert_eq!(metric_unit("thermometers"), None);
        assert_eq!(metric_unit("x"), None);
        assert_eq!(metric_unit(""), None);
    }
}
