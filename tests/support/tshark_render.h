#pragma once

#include <vector>

#include "tests/support/frame_feeder.h"
#include "tests/support/tshark_capture.h"

// Renders a frame decoded by HareMQ's codec in tshark's vocabulary, so a test can compare
// the codec's reading of a capture, field by field, with tshark's independent one.
namespace haremq::test {

// The lines tshark prints for `frame` (indent 4 and deeper); a decoding error is rendered
// as a line "DECODE ERROR: <message>" so that it can never match a capture.
std::vector<tshark_line> render_tshark(const owned_frame& frame);

}  // namespace haremq::test
