// LinearModel: position = slope * (chunk - base) + intercept, evaluated in
// double and clamped into [0, n). slope >= 0 always, so predictions are
// monotone in the chunk: routing never reorders keys. Chunks below `base`
// predict as `base`. LinearModelBuilder fits it by least squares.
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>

namespace alexfs::index {

struct LinearModel {
  double slope = 0;
  double intercept = 0;
  uint64_t base = 0;

  double Predict(uint64_t chunk) const {
    const double x = chunk > base ? static_cast<double>(chunk - base) : 0.0;
    return slope * x + intercept;
  }
  // The prediction clamped into [0, n). REQUIRES: n > 0.
  uint32_t PredictClamped(uint64_t chunk, uint32_t n) const {
    const double p = Predict(chunk);
    if (!(p > 0)) return 0;  // also catches NaN
    if (p >= static_cast<double>(n - 1)) return n - 1;
    return static_cast<uint32_t>(p);
  }
};

// Least-squares fit of y over x = chunk - base; base is the first chunk added
// (callers add chunks in ascending order).
// Least-squares fit of y_i = i * y_step over x_i = chunks[i] - chunks[0]
// (chunks ascending), on every stride-th point plus the last one, stride
// chosen so at most ~max_points points are used. Two passes (means, then
// co-moments about the means): no division per point, stable for huge x.
inline LinearModel FitLinear(const uint64_t* chunks, size_t n, double y_step, size_t max_points = size_t{1} << 16) {
  LinearModel m;
  if (n == 0) return m;
  m.base = chunks[0];
  const size_t stride = n > max_points ? n / max_points : 1;
  double sx = 0, sy = 0, cnt = 0;
  auto each = [&](auto&& fn) {
    size_t i = 0;
    for (; i < n; i += stride) fn(i);
    if (i - stride != n - 1) fn(n - 1);
  };
  each([&](size_t i) {
    sx += static_cast<double>(chunks[i] - m.base);
    sy += static_cast<double>(i) * y_step;
    cnt += 1;
  });
  const double mx = sx / cnt, my = sy / cnt;
  double cxy = 0, cxx = 0;
  each([&](size_t i) {
    const double dx = static_cast<double>(chunks[i] - m.base) - mx;
    cxy += dx * (static_cast<double>(i) * y_step - my);
    cxx += dx * dx;
  });
  if (cxx > 0 && cxy > 0) {
    m.slope = cxy / cxx;
    m.intercept = my - m.slope * mx;
  } else {
    m.slope = 0;
    m.intercept = my;
  }
  return m;
}

// The line through the first and last point, y from 0 to (n - 1) * y_step
// (used when least squares fails to separate keys, e.g. one huge cluster and
// one outlier).
inline LinearModel FitEndpoints(const uint64_t* chunks, size_t n, double y_step) {
  LinearModel m;
  if (n == 0) return m;
  m.base = chunks[0];
  const uint64_t dx = chunks[n - 1] - chunks[0];
  if (dx > 0) m.slope = static_cast<double>(n - 1) * y_step / static_cast<double>(dx);
  return m;
}

class LinearModelBuilder {
 public:
  void Add(uint64_t chunk, double y) {
    if (n_ == 0) base_ = chunk;
    const double x = static_cast<double>(chunk - base_);
    ++n_;
    // Welford-style running means and co-moments: stable for huge x.
    const double dx = x - mean_x_;
    mean_x_ += dx / n_;
    mean_y_ += (y - mean_y_) / n_;
    cxy_ += dx * (y - mean_y_);
    cxx_ += dx * (x - mean_x_);
    max_x_ = x;
    last_y_ = y;
  }
  LinearModel Build() const {
    LinearModel m;
    m.base = base_;
    if (n_ == 0) return m;
    if (cxx_ > 0 && cxy_ > 0) {
      m.slope = cxy_ / cxx_;
      m.intercept = mean_y_ - m.slope * mean_x_;
    } else {
      m.slope = 0;
      m.intercept = mean_y_;
    }
    return m;
  }
  // The line through the first and last point (used when least squares fails
  // to separate keys, e.g. one huge cluster and one outlier).
  LinearModel BuildEndpoints(double first_y) const {
    LinearModel m;
    m.base = base_;
    m.intercept = first_y;
    if (max_x_ > 0) m.slope = (last_y_ - first_y) / max_x_;
    return m;
  }

 private:
  double n_ = 0;
  uint64_t base_ = 0;
  double mean_x_ = 0, mean_y_ = 0, cxy_ = 0, cxx_ = 0, max_x_ = 0, last_y_ = 0;
};

}  // namespace alexfs::index
