// Store statistics in the Prometheus text exposition format (version 0.0.4),
// as node_exporter's textfile collector reads them. Metric names begin with
// "alexfs_"; every sample carries a store="DATA_DIR" label.
#pragma once

#include <string>

#include "engine/stats.h"

namespace alexfs::tools {

std::string PrometheusText(const StoreStats& stats, const std::string& data_dir);

}  // namespace alexfs::tools
