// The C side: libmilter's callbacks, each a thin trampoline into Connection
// (stage 1) or DmarcConnection (the DMARC stage, milter/dmarc_stage.h)
// that lets no exception cross into libmilter's C frames.
#pragma once

#include <cstddef>
#include <memory>

#include "dmarc/dmarc_metrics.h"
#include "runtime.h"

namespace mtls::milter {

// The Runtime new connections will use; replaceable at any time.
void install_runtime(std::shared_ptr<const Runtime> runtime);

// The Runtime new connections use now; nullptr before install_runtime.
std::shared_ptr<const Runtime> current_runtime();

// Connections the MTA has open with us (for draining on shutdown).
std::size_t active_connections();

// Registers the filter with libmilter (smfi_register). Returns false on failure.
bool register_filter();

// Registers the DMARC stage instead (in its own process: milter/dmarc_stage.h),
// counting into metrics (shared with the parent). Returns false on failure.
bool register_dmarc_filter(dmarc::DmarcMetrics* metrics);

}  // namespace mtls::milter
