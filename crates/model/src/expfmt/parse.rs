//! [`parse`]: groups an exposition's lines into metric families.
//!
//! The [`Lexer`] checks each line on its own; this module checks how lines fit together:
//! which family a sample belongs to (by its name and the declared types), that no series
//! appears twice, that histogram buckets are complete and cumulative, that metadata comes
//! before samples and that two families' names do not collide.
//!
//! Every family owns the sample names its type produces (`foo_bucket`, `foo_sum`,
//! `foo_count` for a histogram `foo`); one map from sample name to (family, role)
//! resolves each line, and a clash between two families' sample names is a type conflict.
//! Within a family, a hash table keyed by the label set (hashed from the lexer's borrowed
//! pairs, so no allocation) finds the metric a line belongs to.

use std::borrow::Cow;
use std::hash::{BuildHasher, Hasher};

use hashbrown::{HashMap, HashTable};

use super::error::{ParseError, ParseErrorKind};
use super::float::parse_float;
use super::lexer::{Entry, LabelPair, Lexer, SampleLine};
use super::Format;
use crate::{
    Bucket, CounterValue, Exemplar, HistogramValue, Labels, Metric, MetricFamily, MetricType,
    MetricValue, Quantile, State, SummaryValue, EXEMPLAR_MAX_LABEL_CHARS,
};

/// Parses a whole exposition into families, in order of first appearance.
///
/// In the text format a family whose samples are split by another family is merged; in
/// OpenMetrics that is an error, as is a missing `# EOF`.
pub fn parse(input: &[u8], format: Format) -> Result<Vec<MetricFamily>, ParseError> {
    parse_with(input, format, true)
}

/// [`parse`], with or without the shortcuts that reuse the previous line's work (the
/// lexer's reuse of label pairs and the builder's recognition of the previous metric).
/// Without them every line is lexed and looked up in full: tests check that both ways
/// give the same result.
fn parse_with(
    input: &[u8],
    format: Format,
    shortcuts: bool,
) -> Result<Vec<MetricFamily>, ParseError> {
    let mut lexer = Lexer::from_bytes(input, format)?;
    if !shortcuts {
        lexer = lexer.without_reuse();
    }
    let mut builder = Builder::new(format);
    builder.shortcuts = shortcuts;
    let mut eof = false;
    while let Some(entry) = lexer.next_entry()? {
        let line = lexer.line();
        let result = match entry {
            Entry::Comment => Ok(()),
            Entry::Eof => {
                eof = true;
                Ok(())
            }
            Entry::Help { name, text } => builder.help(name, text),
            Entry::Type { name, metric_type } => builder.declare_type(name, metric_type),
            Entry::Unit { name, unit } => builder.unit(name, unit),
            Entry::Sample(sample) => {
                let labels = SampleLabels {
                    pairs: lexer.labels(),
                    reused: lexer.reused_labels(),
                    exemplar: lexer.exemplar_labels(),
                    name_repeated: lexer.name_repeated(),
                };
                builder.sample(&sample, labels, line)
            }
        };
        result.map_err(|kind| match kind {
            ParseErrorKind::DuplicateLabel(name) => lexer.error_at_duplicate_label(&name),
            kind => lexer.error(kind),
        })?;
    }
    if format == Format::OpenMetrics && !eof {
        return Err(lexer.error_at_end(ParseErrorKind::MissingEof));
    }
    builder.finish()
}

/// What a sample line contributes to its metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Role {
    /// The value of a counter, gauge or unknown metric.
    Value,
    /// A histogram bucket (`le` label).
    Bucket,
    /// `_sum` / `_gsum`.
    Sum,
    /// `_count` / `_gcount`.
    Count,
    /// `_created`.
    Created,
    /// A summary quantile (`quantile` label).
    Quantile,
    /// An info metric's `_info` sample.
    Info,
    /// One state of a state set (label named after the family).
    State,
}

/// The sample names a family of `metric_type` declared as `key` owns, with their roles.
fn sample_names(format: Format, metric_type: MetricType, key: &str) -> Vec<(String, Role)> {
    let with = |suffix: &str, role| (format!("{key}{suffix}"), role);
    let om = format == Format::OpenMetrics;
    match metric_type {
        MetricType::Counter if om => {
            vec![with("_total", Role::Value), with("_created", Role::Created)]
        }
        MetricType::Counter | MetricType::Gauge | MetricType::Unknown => {
            vec![with("", Role::Value)]
        }
        MetricType::Histogram => {
            let mut names = vec![
                with("_bucket", Role::Bucket),
                with("_sum", Role::Sum),
                with("_count", Role::Count),
            ];
            if om {
                names.push(with("_created", Role::Created));
            }
            names
        }
        MetricType::GaugeHistogram => vec![
            with("_bucket", Role::Bucket),
            with("_gsum", Role::Sum),
            with("_gcount", Role::Count),
        ],
        MetricType::Summary => {
            let mut names = vec![
                with("", Role::Quantile),
                with("_sum", Role::Sum),
                with("_count", Role::Count),
            ];
            if om {
                names.push(with("_created", Role::Created));
            }
            names
        }
        MetricType::Info => vec![with("_info", Role::Info)],
        MetricType::StateSet => vec![with("", Role::State)],
    }
}

/// The model name of a family declared as `key` (see `family.rs` on naming).
fn model_name(format: Format, metric_type: MetricType, key: &str) -> String {
    match (format, metric_type) {
        (Format::OpenMetrics, MetricType::Counter) => format!("{key}_total"),
        (Format::OpenMetrics, MetricType::Info) => format!("{key}_info"),
        _ => key.to_owned(),
    }
}

fn type_name(t: MetricType) -> &'static str {
    t.as_openmetrics_name()
}

/// A new metric's value before its lines are applied. Buckets and quantiles get room for
/// as many as the family's previous metric had (`previous`): metrics of a family usually
/// share their layout.
fn empty_value(metric_type: MetricType, previous: Option<&Metric>) -> MetricValue {
    let parts = previous.map_or(0, |m| match &m.value {
        MetricValue::Histogram(h) => h.buckets.len(),
        MetricValue::Summary(s) => s.quantiles.len(),
        _ => 0,
    });
    match metric_type {
        MetricType::Counter => MetricValue::Counter(CounterValue::default()),
        MetricType::Gauge => MetricValue::Gauge(0.0),
        MetricType::Unknown => MetricValue::Unknown(0.0),
        MetricType::Histogram | MetricType::GaugeHistogram => {
            MetricValue::Histogram(HistogramValue {
                buckets: Vec::with_capacity(parts),
                ..HistogramValue::default()
            })
        }
        MetricType::Summary => MetricValue::Summary(SummaryValue {
            quantiles: Vec::with_capacity(parts),
            ..SummaryValue::default()
        }),
        MetricType::Info => MetricValue::Info,
        MetricType::StateSet => MetricValue::StateSet(Vec::new()),
    }
}

/// The labels of a sample line, as the lexer found them.
struct SampleLabels<'l, 'a> {
    /// The pairs in the order written.
    pairs: &'l [LabelPair<'a>],
    /// How many leading pairs equal the previous sample line's ([`Lexer::reused_labels`]).
    reused: usize,
    /// The exemplar's pairs.
    exemplar: &'l [LabelPair<'a>],
    /// Whether the sample name is the previous sample line's ([`Lexer::name_repeated`]).
    name_repeated: bool,
}

/// The previous sample line, for recognising the next line of the same metric without
/// looking it up.
#[derive(Debug, Clone, Copy)]
struct PreviousLine {
    family: usize,
    metric: usize,
    role: Role,
    /// Every pair from this index on (in the order written) was left out of the metric's
    /// identity (the role's special label, or an empty value).
    ignored_from: usize,
}

/// Bookkeeping per metric that the model does not keep.
#[derive(Debug, Clone, Copy)]
struct MetricState {
    /// Which single-valued parts were seen (`SEEN_*` bits).
    seen: u8,
    /// Line of the latest sample, for errors found when the metric is complete.
    line: usize,
    /// Whether the buckets arrived out of `le` order (text format only).
    unsorted: bool,
}

const SEEN_VALUE: u8 = 1;
const SEEN_SUM: u8 = 2;
const SEEN_COUNT: u8 = 4;
const SEEN_CREATED: u8 = 8;

/// A family being assembled.
#[derive(Debug)]
struct FamilyBuilder {
    family: MetricFamily,
    /// The name used in metadata lines.
    key: Box<str>,
    states: Vec<MetricState>,
    /// (label-set hash, metric index); the hash is kept so growing the table rehashes
    /// nothing.
    index: HashTable<(u64, usize)>,
    typed: bool,
    has_samples: bool,
}

impl FamilyBuilder {
    fn new(format: Format, key: &str, metric_type: MetricType) -> Self {
        Self {
            family: MetricFamily::new(model_name(format, metric_type, key), metric_type),
            key: key.into(),
            states: Vec::new(),
            index: HashTable::new(),
            typed: false,
            has_samples: false,
        }
    }
}

impl FamilyBuilder {
    /// The index of the metric whose labels are `identity` (sorted, distinct, non-empty
    /// names and values), added if new.
    fn find_or_insert<'p, I>(
        &mut self,
        hasher: &foldhash::fast::RandomState,
        identity: impl Fn() -> I,
        timestamp_ms: Option<i64>,
        line_no: usize,
    ) -> Result<usize, ParseErrorKind>
    where
        I: Iterator<Item = (&'p str, &'p str)> + Clone,
    {
        let metrics = &self.family.metrics;
        let hash = hash_pairs(hasher, identity());
        let found = self.index.find(hash, |&(h, i)| {
            h == hash && holds(&metrics[i].labels, identity())
        });
        if let Some(&(_, i)) = found {
            return Ok(i);
        }
        let labels = Labels::from_checked(identity())
            .map_err(|_| ParseErrorKind::TooLarge("label set over 4 GiB"))?;
        let i = self.family.metrics.len();
        let value = empty_value(self.family.metric_type, self.family.metrics.last());
        self.family.metrics.push(Metric {
            labels,
            value,
            timestamp_ms,
        });
        self.states.push(MetricState {
            seen: 0,
            line: line_no,
            unsorted: false,
        });
        self.index.insert_unique(hash, (hash, i), |&(h, _)| h);
        Ok(i)
    }
}

struct Builder {
    format: Format,
    families: Vec<FamilyBuilder>,
    /// Family index by metadata name.
    by_key: HashMap<Box<str>, usize>,
    /// (family index, role) by sample name.
    by_sample: HashMap<Box<str>, (usize, Role)>,
    /// The family of the latest line.
    current: Option<usize>,
    /// The latest sample name resolved, and to what (lines of a family repeat names).
    last_resolved: Option<(String, (usize, Role))>,
    previous: Option<PreviousLine>,
    /// Whether to use `previous` (see [`parse_with`]).
    shortcuts: bool,
    /// Scratch: a line's label indices in name order, when it did not write them so.
    order: Vec<usize>,
    hasher: foldhash::fast::RandomState,
}

type Step = Result<(), ParseErrorKind>;

impl Builder {
    fn new(format: Format) -> Self {
        Self {
            format,
            families: Vec::new(),
            by_key: HashMap::new(),
            by_sample: HashMap::new(),
            current: None,
            last_resolved: None,
            previous: None,
            shortcuts: true,
            order: Vec::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    /// Registers a new family's sample names, or reports the clash.
    fn register(&mut self, idx: usize) -> Step {
        let fb = &self.families[idx];
        let names = sample_names(self.format, fb.family.metric_type, &fb.key);
        for (name, _) in &names {
            if let Some(&(other, _)) = self.by_sample.get(name.as_str()) {
                if other != idx {
                    return Err(ParseErrorKind::TypeConflict {
                        name: name.clone(),
                        existing: type_name(self.families[other].family.metric_type),
                        new: type_name(fb.family.metric_type),
                    });
                }
            }
        }
        self.last_resolved = None;
        for (name, role) in names {
            self.by_sample.insert(name.into_boxed_str(), (idx, role));
        }
        Ok(())
    }

    fn unregister(&mut self, idx: usize) {
        self.last_resolved = None;
        self.by_sample.retain(|_, (i, _)| *i != idx);
    }

    fn new_family(&mut self, key: &str, metric_type: MetricType) -> Result<usize, ParseErrorKind> {
        let idx = self.families.len();
        self.families
            .push(FamilyBuilder::new(self.format, key, metric_type));
        if let Err(e) = self.register(idx) {
            self.families.pop();
            return Err(e);
        }
        self.by_key.insert(key.into(), idx);
        Ok(idx)
    }

    /// The family a metadata line for `key` refers to, created if new. Metadata must come
    /// before the family's samples (always in OpenMetrics; for TYPE in text too).
    fn family_for_metadata(
        &mut self,
        key: &str,
        what: &'static str,
    ) -> Result<usize, ParseErrorKind> {
        let Some(&idx) = self.by_key.get(key) else {
            let idx = self.new_family(key, MetricType::Unknown)?;
            self.current = Some(idx);
            return Ok(idx);
        };
        let fb = &self.families[idx];
        let misplaced = match self.format {
            Format::OpenMetrics => fb.has_samples || self.current != Some(idx),
            Format::Text => fb.has_samples && what == "TYPE",
        };
        if misplaced {
            return Err(ParseErrorKind::MisplacedMetadata {
                what,
                family: key.to_owned(),
            });
        }
        self.current = Some(idx);
        Ok(idx)
    }

    fn help(&mut self, key: Cow<'_, str>, text: Cow<'_, str>) -> Step {
        let idx = self.family_for_metadata(&key, "HELP")?;
        let family = &mut self.families[idx].family;
        if family.help.is_some() {
            return Err(ParseErrorKind::DuplicateMetadata {
                what: "HELP",
                family: key.into_owned(),
            });
        }
        family.help = Some(text.into_owned());
        Ok(())
    }

    fn unit(&mut self, key: Cow<'_, str>, unit: Cow<'_, str>) -> Step {
        let idx = self.family_for_metadata(&key, "UNIT")?;
        let family = &mut self.families[idx].family;
        if family.unit.is_some() {
            return Err(ParseErrorKind::DuplicateMetadata {
                what: "UNIT",
                family: key.into_owned(),
            });
        }
        if unit.is_empty() {
            return Ok(());
        }
        if !key.ends_with(&*unit) || !key[..key.len() - unit.len()].ends_with('_') {
            return Err(ParseErrorKind::UnitMismatch {
                family: key.into_owned(),
                unit: unit.into_owned(),
            });
        }
        family.unit = Some(unit.into_owned());
        Ok(())
    }

    fn declare_type(&mut self, key: Cow<'_, str>, metric_type: MetricType) -> Step {
        let Some(&idx) = self.by_key.get(&*key) else {
            let idx = self.new_family(&key, metric_type)?;
            self.families[idx].typed = true;
            self.current = Some(idx);
            return Ok(());
        };
        let fb = &self.families[idx];
        if fb.typed {
            return Err(if fb.family.metric_type == metric_type {
                ParseErrorKind::DuplicateMetadata {
                    what: "TYPE",
                    family: key.into_owned(),
                }
            } else {
                ParseErrorKind::TypeConflict {
                    name: key.into_owned(),
                    existing: type_name(fb.family.metric_type),
                    new: type_name(metric_type),
                }
            });
        }
        self.family_for_metadata(&key, "TYPE")?;
        let previous = self.families[idx].family.metric_type;
        self.unregister(idx);
        let fb = &mut self.families[idx];
        fb.family.metric_type = metric_type;
        fb.family.name = model_name(self.format, metric_type, &key);
        fb.typed = true;
        if let Err(e) = self.register(idx) {
            let fb = &mut self.families[idx];
            fb.family.metric_type = previous;
            fb.family.name = model_name(self.format, previous, &key);
            // Restoring the previous names cannot clash: they were registered before.
            let _ = self.register(idx);
            return Err(e);
        }
        Ok(())
    }

    /// The family and role of a sample name, creating an untyped family for a new name.
    /// `repeated`: the name is the previous sample line's, the latest one resolved.
    fn resolve(&mut self, name: &str, repeated: bool) -> Result<(usize, Role), ParseErrorKind> {
        if let Some((last, found)) = &self.last_resolved {
            if repeated || last == name {
                return Ok(*found);
            }
        }
        if let Some(&found) = self.by_sample.get(name) {
            self.remember(name, found);
            return Ok(found);
        }
        if let Some(&idx) = self.by_key.get(name) {
            let family = &self.families[idx].family;
            return Err(ParseErrorKind::UnexpectedSample {
                sample: name.to_owned(),
                family: family.name.clone(),
                family_type: type_name(family.metric_type),
            });
        }
        let idx = self.new_family(name, MetricType::Unknown)?;
        self.remember(name, (idx, Role::Value));
        Ok((idx, Role::Value))
    }

    /// Caches the latest resolution, reusing the string's buffer.
    fn remember(&mut self, name: &str, found: (usize, Role)) {
        let mut buf = self
            .last_resolved
            .take()
            .map(|(s, _)| s)
            .unwrap_or_default();
        buf.clear();
        buf.push_str(name);
        self.last_resolved = Some((buf, found));
    }

    fn sample(
        &mut self,
        line: &SampleLine<'_>,
        labels: SampleLabels<'_, '_>,
        line_no: usize,
    ) -> Step {
        let repeated = self.shortcuts && labels.name_repeated;
        let (idx, role) = self.resolve(&line.name, repeated)?;
        if self.format == Format::OpenMetrics
            && self.current != Some(idx)
            && self.families[idx].has_samples
        {
            return Err(ParseErrorKind::InterleavedFamily(
                self.families[idx].key.to_string(),
            ));
        }
        self.current = Some(idx);
        let SampleLabels {
            pairs,
            reused,
            exemplar: exemplar_labels,
            ..
        } = labels;
        let key = &self.families[idx].key;
        let special = special_label(role, key);
        let special_pos = if special.is_empty() {
            None
        } else {
            pairs.iter().position(|(n, _)| n == special)
        };
        // Pairs left out of the series' identity: the special one, and any with an empty
        // value.
        let ignored = |i: usize| Some(i) == special_pos || pairs[i].1.is_empty();
        let ignored_from = (0..pairs.len())
            .rev()
            .find(|&i| !ignored(i))
            .map_or(0, |i| i + 1);
        // Fast path: the lines of one histogram or summary come one after another, so a
        // line usually continues the previous line's metric; no sorting or hashing needed
        // then. (Valid once the names are known to be distinct, checked next.)
        let continues = self
            .previous
            .filter(|prev| {
                self.shortcuts
                    && prev.family == idx
                    && reused >= prev.ignored_from
                    && reused >= ignored_from
                    && same_special(prev.role, role, key, &pairs[..reused])
            })
            .map(|prev| prev.metric);
        // Names must be distinct. Strictly increasing ones are, which one pass shows in
        // the usual case. A continuing line's shared pairs were checked on the previous
        // line, so only the others need comparing. Otherwise sort indices (the lexer's
        // pairs stay in written order, which its reuse of them relies on), which finds any
        // repeat.
        let sorted = pairs.windows(2).all(|w| name_lt(&w[0].0, &w[1].0));
        let distinct = sorted || (continues.is_some() && distinct_after(pairs, reused));
        self.order.clear();
        if !distinct {
            self.order.extend(0..pairs.len());
            self.order
                .sort_unstable_by(|&a, &b| name_cmp(&pairs[a].0, &pairs[b].0));
            if let Some(w) = self
                .order
                .windows(2)
                .find(|w| pairs[w[0]].0 == pairs[w[1]].0)
            {
                return Err(ParseErrorKind::DuplicateLabel(pairs[w[0]].0.to_string()));
            }
        }
        if !special.is_empty() && special_pos.is_none() {
            return Err(ParseErrorKind::MissingLabel {
                sample: line.name.to_string(),
                label: match role {
                    Role::Bucket => "le",
                    Role::Quantile => "quantile",
                    _ => "state",
                },
            });
        }
        let special_value = special_pos.map(|p| pairs[p].1.as_ref());
        let exemplar_allowed = role == Role::Bucket
            || (role == Role::Value
                && self.families[idx].family.metric_type == MetricType::Counter);
        let exemplar = self.exemplar(line, exemplar_allowed, exemplar_labels)?;
        if continues.is_none() {
            // The identity as indices in name order.
            if sorted {
                self.order.extend((0..pairs.len()).filter(|&i| !ignored(i)));
            } else {
                self.order.retain(|&i| !ignored(i));
            }
        }
        let order = &self.order;
        let identity = || {
            order
                .iter()
                .map(|&i| (pairs[i].0.as_ref(), pairs[i].1.as_ref()))
        };
        let format = self.format;
        let fb = &mut self.families[idx];
        fb.has_samples = true;
        let metric_idx = match continues {
            Some(i) => i,
            None => fb.find_or_insert(&self.hasher, identity, line.timestamp_ms, line_no)?,
        };
        self.previous = Some(PreviousLine {
            family: idx,
            metric: metric_idx,
            role,
            ignored_from,
        });
        let MetricFamily { name, metrics, .. } = &mut fb.family;
        let metric = &mut metrics[metric_idx];
        let state = &mut fb.states[metric_idx];
        state.line = line_no;
        if metric.timestamp_ms != line.timestamp_ms {
            return Err(ParseErrorKind::TimestampMismatch(series_name(
                name,
                &metric.labels,
            )));
        }
        let family = (format, name.as_str());
        apply(family, role, line, special_value, exemplar, metric, state)
    }

    fn exemplar(
        &self,
        line: &SampleLine<'_>,
        allowed: bool,
        labels: &[LabelPair<'_>],
    ) -> Result<Option<Exemplar>, ParseErrorKind> {
        let Some((value, timestamp)) = line.exemplar else {
            return Ok(None);
        };
        if !allowed {
            return Err(ParseErrorKind::InvalidExemplar(
                "only counter _total and histogram _bucket samples may carry one",
            ));
        }
        let mut pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(n, v)| (n.as_ref(), v.as_ref()))
            .collect();
        let labels = Labels::from_unsorted(&mut pairs)
            .map_err(|_| ParseErrorKind::InvalidExemplar("duplicate label name"))?;
        let exemplar = Exemplar {
            labels,
            value,
            timestamp,
        };
        if exemplar.label_chars() > EXEMPLAR_MAX_LABEL_CHARS {
            return Err(ParseErrorKind::InvalidExemplar(
                "labels longer than 128 characters in all",
            ));
        }
        Ok(Some(exemplar))
    }

    fn finish(self) -> Result<Vec<MetricFamily>, ParseError> {
        let format = self.format;
        let mut out = Vec::with_capacity(self.families.len());
        for fb in self.families {
            let FamilyBuilder {
                mut family, states, ..
            } = fb;
            for (metric, state) in family.metrics.iter_mut().zip(&states) {
                check_complete(format, &family.name, metric, state).map_err(|kind| ParseError {
                    line: state.line,
                    column: 1,
                    kind,
                })?;
            }
            // A HELP- or TYPE-only family carries metadata a reader may want; keep it.
            out.push(family);
        }
        Ok(out)
    }
}

/// The label a sample of `role` carries besides its series' own labels (`le`, `quantile`,
/// a state set's state label, named `key` after its family), or `""` for none.
fn special_label(role: Role, key: &str) -> &str {
    match role {
        Role::Bucket => "le",
        Role::Quantile => "quantile",
        Role::State => key,
        _ => "",
    }
}

/// Whether two lines of one family (declared as `key`), of roles `a` and `b`, leave the
/// same pairs of `shared` out of their identities: always when the roles have the same
/// special label, else when `shared` holds neither special label.
///
/// With that, a line continues the previous line's metric when the pairs after the
/// `shared` ones, in both lines, are all left out of the identity: both identities are
/// then the identity-forming pairs of `shared`.
fn same_special(a: Role, b: Role, key: &str, shared: &[LabelPair<'_>]) -> bool {
    let (a, b) = (special_label(a, key), special_label(b, key));
    a == b || !shared.iter().any(|(n, _)| n == a || n == b)
}

/// `a < b` for label names, deciding on the first byte when it differs (the usual case)
/// without a call to the general string comparison.
#[inline]
fn name_lt(a: &str, b: &str) -> bool {
    name_cmp(a, b).is_lt()
}

/// Compares label names like `str::cmp`, deciding on the first byte when it differs.
#[inline]
fn name_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    match (a.as_bytes().first(), b.as_bytes().first()) {
        (Some(x), Some(y)) if x != y => x.cmp(y),
        _ => a.cmp(b),
    }
}

/// Whether the names of `pairs` from `from` on differ from every other name of `pairs`.
fn distinct_after(pairs: &[LabelPair<'_>], from: usize) -> bool {
    (from..pairs.len()).all(|j| {
        let name = &pairs[j].0;
        pairs
            .iter()
            .enumerate()
            .all(|(i, (other, _))| i == j || other != name)
    })
}

/// Whether `labels` holds exactly `pairs`, in the same order.
fn holds<'p>(labels: &Labels, mut pairs: impl Iterator<Item = (&'p str, &'p str)>) -> bool {
    let mut mine = labels.iter();
    loop {
        match (mine.next(), pairs.next()) {
            (None, None) => return true,
            (Some(a), Some(b)) if a.0 == b.0 && a.1 == b.1 => {}
            _ => return false,
        }
    }
}

/// Hashes label pairs the same way whether they are borrowed from the input or stored.
fn hash_pairs<'p>(
    hasher: &foldhash::fast::RandomState,
    pairs: impl Iterator<Item = (&'p str, &'p str)>,
) -> u64 {
    let mut h = hasher.build_hasher();
    for (n, v) in pairs {
        h.write(n.as_bytes());
        h.write_u8(0xff);
        h.write(v.as_bytes());
        h.write_u8(0xff);
    }
    h.finish()
}

fn series_name(name: &str, labels: &Labels) -> String {
    if labels.is_empty() {
        name.to_owned()
    } else {
        format!("{name}{labels}")
    }
}

/// Adds one sample line to its metric.
fn apply(
    (format, family): (Format, &str),
    role: Role,
    line: &SampleLine<'_>,
    special_value: Option<&str>,
    exemplar: Option<Exemplar>,
    metric: &mut Metric,
    state: &mut MetricState,
) -> Step {
    let duplicate = || ParseErrorKind::DuplicateSeries(series_name(&line.name, &metric.labels));
    let once = |state: &mut MetricState, bit: u8| {
        if state.seen & bit != 0 {
            return Err(duplicate());
        }
        state.seen |= bit;
        Ok(())
    };
    let value = line.value;
    match (&mut metric.value, role) {
        (MetricValue::Counter(c), Role::Value) => {
            once(state, SEEN_VALUE)?;
            if format == Format::OpenMetrics && (value.is_nan() || value < 0.0) {
                return Err(ParseErrorKind::InvalidSampleValue {
                    sample: line.name.to_string(),
                    reason: "a counter must be a non-negative number",
                });
            }
            c.value = value;
            c.exemplar = exemplar.map(Box::new);
        }
        (MetricValue::Counter(c), Role::Created) => {
            once(state, SEEN_CREATED)?;
            c.created = Some(value);
        }
        (MetricValue::Gauge(v) | MetricValue::Unknown(v), Role::Value) => {
            once(state, SEEN_VALUE)?;
            *v = value;
        }
        (MetricValue::Histogram(h), Role::Bucket) => {
            let raw = special_value.unwrap_or_default();
            let le = parse_float(raw).filter(|v| !v.is_nan()).ok_or_else(|| {
                ParseErrorKind::InvalidLabelValue {
                    label: "le",
                    value: raw.to_owned(),
                }
            })?;
            let series = || series_name(family, &metric.labels);
            if let Some(last) = h.buckets.last() {
                if le == last.upper_bound || h.buckets.iter().any(|b| b.upper_bound == le) {
                    return Err(ParseErrorKind::DuplicateSeries(format!(
                        "{} with le=\"{raw}\"",
                        series_name(&line.name, &metric.labels)
                    )));
                }
                if le < last.upper_bound {
                    if format == Format::OpenMetrics {
                        return Err(ParseErrorKind::UnorderedBuckets(series()));
                    }
                    state.unsorted = true;
                } else if !state.unsorted && value < last.cumulative_count {
                    return Err(ParseErrorKind::DecreasingBucket {
                        series: series(),
                        le: raw.to_owned(),
                    });
                }
            }
            h.buckets.push(Bucket {
                upper_bound: le,
                cumulative_count: value,
                exemplar: exemplar.map(Box::new),
            });
        }
        (MetricValue::Histogram(h), Role::Sum) => {
            once(state, SEEN_SUM)?;
            h.sum = Some(value);
        }
        (MetricValue::Histogram(h), Role::Count) => {
            once(state, SEEN_COUNT)?;
            h.count = Some(value);
        }
        (MetricValue::Histogram(h), Role::Created) => {
            once(state, SEEN_CREATED)?;
            h.created = Some(value);
        }
        (MetricValue::Summary(s), Role::Quantile) => {
            let raw = special_value.unwrap_or_default();
            let quantile = parse_float(raw).filter(|q| !q.is_nan()).ok_or_else(|| {
                ParseErrorKind::InvalidLabelValue {
                    label: "quantile",
                    value: raw.to_owned(),
                }
            })?;
            if s.quantiles.iter().any(|q| q.quantile == quantile) {
                return Err(ParseErrorKind::DuplicateSeries(format!(
                    "{} with quantile=\"{raw}\"",
                    series_name(&line.name, &metric.labels)
                )));
            }
            s.quantiles.push(Quantile { quantile, value });
        }
        (MetricValue::Summary(s), Role::Sum) => {
            once(state, SEEN_SUM)?;
            s.sum = Some(value);
        }
        (MetricValue::Summary(s), Role::Count) => {
            once(state, SEEN_COUNT)?;
            s.count = Some(value);
        }
        (MetricValue::Summary(s), Role::Created) => {
            once(state, SEEN_CREATED)?;
            s.created = Some(value);
        }
        (MetricValue::Info, Role::Info) => {
            once(state, SEEN_VALUE)?;
            if value != 1.0 {
                return Err(ParseErrorKind::InvalidSampleValue {
                    sample: line.name.to_string(),
                    reason: "an info metric's value must be 1",
                });
            }
        }
        (MetricValue::StateSet(states), Role::State) => {
            let name = special_value.unwrap_or_default();
            if states.iter().any(|s| s.name == name) {
                return Err(ParseErrorKind::DuplicateSeries(format!(
                    "{} with state {name:?}",
                    series_name(&line.name, &metric.labels)
                )));
            }
            let enabled = match value {
                1.0 => true,
                0.0 => false,
                _ => {
                    return Err(ParseErrorKind::InvalidSampleValue {
                        sample: line.name.to_string(),
                        reason: "a state set's values must be 0 or 1",
                    })
                }
            };
            states.push(State {
                name: name.to_owned(),
                enabled,
            });
        }
        _ => {
            // Roles come from the family's own sample names, so they always fit its type.
            return Err(ParseErrorKind::UnexpectedSample {
                sample: line.name.to_string(),
                family: String::new(),
                family_type: "this",
            });
        }
    }
    Ok(())
}

/// Checks what can only be checked once a metric has all its lines.
fn check_complete(format: Format, family: &str, metric: &mut Metric, state: &MetricState) -> Step {
    let series = || series_name(family, &metric.labels);
    match &mut metric.value {
        MetricValue::Histogram(h) => {
            if state.unsorted {
                h.buckets
                    .sort_by(|a, b| a.upper_bound.total_cmp(&b.upper_bound));
            }
            let Some(last) = h.buckets.last() else {
                return Err(ParseErrorKind::MissingInfBucket(series()));
            };
            if last.upper_bound != f64::INFINITY {
                return Err(ParseErrorKind::MissingInfBucket(series()));
            }
            if let Some(w) = h
                .buckets
                .windows(2)
                .find(|w| w[1].cumulative_count < w[0].cumulative_count)
            {
                let mut le = Vec::new();
                super::float::write_float(&mut le, w[1].upper_bound);
                return Err(ParseErrorKind::DecreasingBucket {
                    series: series(),
                    le: String::from_utf8_lossy(&le).into_owned(),
                });
            }
            if format == Format::OpenMetrics {
                if let Some(count) = h.count {
                    if count != last.cumulative_count && !count.is_nan() {
                        return Err(ParseErrorKind::CountMismatch(series()));
                    }
                }
            }
        }
        MetricValue::Counter(_)
            if format == Format::OpenMetrics && state.seen & SEEN_VALUE == 0 =>
        {
            return Err(ParseErrorKind::MissingSample {
                series: series(),
                suffix: "_total",
            });
        }
        _ => {}
    }
    Ok(())
}

#[cfg(test)]
mod tests;
