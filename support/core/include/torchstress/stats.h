// Honest statistics for pass rates and throughput: exact binomial bounds, median and a robust spread.
#pragma once

#include <vector>

namespace torchstress {

// One-sided 95% (by default) Clopper-Pearson upper bound on a failure probability, given
// `failures` of `trials`. 0 of 10 -> 0.259 ("below 26% at 95%").
double failure_rate_upper_bound(int failures, int trials, double confidence = 0.95);

// Trials needed with zero failures to bound the failure rate below `rate` at `confidence`.
int trials_needed_for_bound(double rate, double confidence = 0.95);

// Repetitions of one measurement, summarised. `spread` is ROBUST: the interquartile range over the
// median (quartiles by linear interpolation, as numpy's and R's defaults). It used to be
// (max - min) / median, which one outlier repetition (a descheduled thread, a page-fault storm)
// blew up to 349,919%; the IQR ignores up to a quarter of the samples on either side. min and max
// stay for whiskers. With fewer than 4 samples no spread is robust: read it with `samples`.
struct Summary {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  double iqr = 0.0;     // third quartile - first quartile
  double spread = 0.0;  // iqr / median: the relative noise a regression must exceed (0 when median <= 0)
  int samples = 0;
};
Summary summarize(std::vector<double> values);

}  // namespace torchstress
