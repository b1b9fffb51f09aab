// The one line each of the daemon's processes logs about its settings, at
// start-up and after each reload ("reloaded: ..."): stage 1's process names
// stage 1's settings, the DMARC stage's process (milter/dmarc_stage.h) the
// DMARC stage's, so that each line says what that process now does.
#pragma once

#include <string>

#include "options/settings.h"

namespace mtls::milter {

std::string describe_milter(const Settings& settings);
std::string describe_dmarc_stage(const Settings& settings);

}  // namespace mtls::milter
