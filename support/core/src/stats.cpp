#include "torchstress/stats.h"

#include <algorithm>
#include <cmath>

namespace torchstress {
namespace {

// P(X <= k) for X ~ Binomial(n, p), by summing terms in log space.
double binomial_cdf(int k, int n, double p) {
  if (p <= 0.0) return 1.0;
  if (p >= 1.0) return k >= n ? 1.0 : 0.0;
  double sum = 0.0;
  for (int i = 0; i <= k; ++i) {
    const double log_term = std::lgamma(n + 1.0) - std::lgamma(i + 1.0) - std::lgamma(n - i + 1.0) + i * std::log(p) +
                            (n - i) * std::log1p(-p);
    sum += std::exp(log_term);
  }
  return sum;
}

// The q-quantile of sorted values, interpolating linearly between order statistics (type 7).
double quantile(const std::vector<double>& sorted, double q) {
  const double pos = q * static_cast<double>(sorted.size() - 1);
  const size_t lo = static_cast<size_t>(pos);
  const double frac = pos - static_cast<double>(lo);
  if (frac == 0.0 || lo + 1 >= sorted.size()) return sorted[lo];  // exact: no 0 * inf
  return sorted[lo] + frac * (sorted[lo + 1] - sorted[lo]);
}

}  // namespace

double failure_rate_upper_bound(int failures, int trials, double confidence) {
  if (trials <= 0) return 1.0;
  if (failures >= trials) return 1.0;
  const double alpha = 1.0 - confidence;
  double lo = 0.0, hi = 1.0;
  for (int i = 0; i < 100; ++i) {  // the CDF falls as p rises: bisect for CDF == alpha
    const double mid = (lo + hi) / 2;
    (binomial_cdf(failures, trials, mid) > alpha ? lo : hi) = mid;
  }
  return hi;
}

int trials_needed_for_bound(double rate, double confidence) {
  return static_cast<int>(std::ceil(std::log(1.0 - confidence) / std::log1p(-rate)));
}

Summary summarize(std::vector<double> v) {
  Summary s;
  if (v.empty()) return s;
  std::sort(v.begin(), v.end());
  s.samples = static_cast<int>(v.size());
  s.median = quantile(v, 0.5);
  s.min = v.front();
  s.max = v.back();
  s.iqr = quantile(v, 0.75) - quantile(v, 0.25);
  s.spread = s.median > 0 ? s.iqr / s.median : 0.0;
  return s;
}

}  // namespace torchstress
