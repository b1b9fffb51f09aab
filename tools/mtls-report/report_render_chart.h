// The HTML report's chart: messages per time bucket, stacked by result, as
// inline SVG (the page may load nothing; see report_render_html.cc).
#pragma once

#include <ostream>

#include "report_render.h"

namespace mtls::report::render {

// The SVG and its caption, or a paragraph saying why there is no chart.
void html_chart(std::ostream& out, const Summary& summary, const RenderOptions& options);

}  // namespace mtls::report::render
