//! [`Querier`]: reading series over a time range.

use tally_model::{Labels, Sample};

use crate::{Matcher, StorageError};

/// One series and its samples in the querier's range, oldest first.
#[derive(Debug, Clone, PartialEq)]
pub struct Series {
    /// The series' label set, `__name__` included.
    pub labels: Labels,
    /// Samples in ascending time order, staleness markers included.
    pub samples: Vec<Sample>,
}

/// What the caller of [`Querier::select`] needs, so the store can do less.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SelectHints {
    /// Only the label sets are wanted (`/api/v1/series`): `samples` may be left empty.
    /// Series with no sample in the range are still left out.
    pub labels_only: bool,
    /// Fail with [`StorageError::TooManySamples`] instead of loading more samples than
    /// this in one call.
    pub max_samples: Option<usize>,
}

/// A read view over samples with timestamps in a fixed `[mint, maxt]` range.
pub trait Querier {
    /// The series that satisfy every matcher and have at least one sample in the range,
    /// sorted by label set. At least one matcher should select something non-empty;
    /// a store may refuse (`StorageError::Other`) a selection that matches every series.
    fn select(
        &self,
        matchers: &[Matcher],
        hints: &SelectHints,
    ) -> Result<Vec<Series>, StorageError>;

    /// Label names of the series selected by `matchers` (all series with a sample in the
    /// range when empty), sorted and unique.
    fn label_names(&self, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;

    /// Values of label `name` among the series selected by `matchers` (all series with a
    /// sample in the range when empty), sorted and unique.
    fn label_values(&self, name: &str, matchers: &[Matcher]) -> Result<Vec<String>, StorageError>;
}
