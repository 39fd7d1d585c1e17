// Store statistics in the Prometheus text exposition format (version 0.0.4),
// as node_exporter's textfile collector reads them. Metric names begin with
// "alexfs_"; every sample carries a store="DATA_DIR" label.
#pragma once

#include <string>

#include "engine/stats.h"
#include "fs/request_counts.h"

namespace alexfs::tools {

// `requests` (the mounted daemon's FUSE request counts) adds
// alexfs_fs_requests_total{op="..."}; `alexfs stats` of an unmounted store
// passes none.
std::string PrometheusText(const StoreStats& stats, const std::string& data_dir,
                           const fs::RequestTotals* requests = nullptr);

}  // namespace alexfs::tools
