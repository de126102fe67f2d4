// Honest statistics for pass rates and throughput: exact binomial bounds, median and spread.
#pragma once

#include <vector>

namespace torchstress {

// One-sided 95% (by default) Clopper-Pearson upper bound on a failure probability, given
// `failures` of `trials`. 0 of 10 -> 0.259 ("below 26% at 95%").
double failure_rate_upper_bound(int failures, int trials, double confidence = 0.95);

// Trials needed with zero failures to bound the failure rate below `rate` at `confidence`.
int trials_needed_for_bound(double rate, double confidence = 0.95);

struct Summary {
  double median = 0.0;
  double min = 0.0;
  double max = 0.0;
  double spread = 0.0;  // (max - min) / median: the relative noise a regression must exceed
};
Summary summarize(std::vector<double> values);

}  // namespace torchstress
