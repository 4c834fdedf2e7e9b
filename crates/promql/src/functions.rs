//! PromQL functions over floats.
//!
//! # Layout
//!
//! - `functions/rate.rs`: `rate`, `increase`, `delta`, `irate`, `idelta`, `deriv`,
//!   `predict_linear`, `resets`, `changes`.
//! - `functions/over_time.rs`: the `*_over_time` family.
//! - `functions/math.rs`: element-wise functions (`abs`, `round`, `clamp`, trigonometry,
//!   ...) and `timestamp`.
//! - `functions/date.rs`: `year`, `month`, `day_of_*`, `days_in_month`, `hour`,
//!   `minute`.
//! - `functions/vector.rs`: `sort*`, `absent*`, `scalar`, `vector`, `time`, `pi`.
//! - `functions/histogram.rs`: `histogram_quantile` and `histogram_fraction` over
//!   classic buckets.
//! - `functions/labels.rs`: `label_replace`, `label_join`.

mod date;
mod histogram;
mod labels;
mod math;
mod over_time;
mod rate;
mod vector;

use crate::error::QueryError;
use crate::eval::{Evaluator, Mat};
use crate::plan::Node;

/// Where a call's argument `i` starts in the query text (the call itself if unknown).
pub(crate) fn arg_offset(pos: usize, arg_pos: &[usize], i: usize) -> usize {
    arg_pos.get(i).copied().unwrap_or(pos)
}

impl Evaluator<'_> {
    /// Evaluates a function call.
    pub(crate) fn eval_call(
        &mut self,
        func: &str,
        args: &[Node],
        pos: usize,
        arg_pos: &[usize],
    ) -> Result<Mat, QueryError> {
        if let Some(m) = self.eval_range_function(func, args, pos, arg_pos)? {
            return Ok(m);
        }
        if let Some(m) = self.eval_math_function(func, args)? {
            return Ok(m);
        }
        if let Some(m) = self.eval_date_function(func, args)? {
            return Ok(m);
        }
        if let Some(m) = self.eval_vector_function(func, args, pos)? {
            return Ok(m);
        }
        match func {
            "histogram_quantile" => self.eval_histogram_quantile(args, pos, arg_pos),
            "histogram_fraction" => self.eval_histogram_fraction(args, pos, arg_pos),
            // Native histograms are not stored yet: these see only floats, which they skip.
            "histogram_count" | "histogram_sum" | "histogram_avg" | "histogram_stddev"
            | "histogram_stdvar" => {
                self.eval_mat(&args[0])?;
                Ok(Vec::new())
            }
            "label_replace" => self.eval_label_replace(args),
            "label_join" => self.eval_label_join(args),
            _ => Err(QueryError::Unsupported(format!(
                "function {func:?} is not supported"
            ))),
        }
    }
}
