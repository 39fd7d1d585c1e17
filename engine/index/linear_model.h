// LinearModel: position = slope * (chunk - base) + intercept, evaluated in
// double and clamped into [0, n). slope >= 0 always, so predictions are
// monotone in the chunk: routing never reorders keys. Chunks below `base`
// predict as `base`. LinearModelBuilder fits it by least squares.
#pragma once

#include <cmath>
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
