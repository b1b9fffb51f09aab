// Time for mtls-report: the timestamps that syslog daemons and journalctl put
// in front of the milter's lines, and the --since/--until arguments. Every
// time is kept as UTC microseconds; zone-less text is local time (TZ).
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace mtls::report {

using Timestamp = std::chrono::sys_time<std::chrono::microseconds>;

Timestamp now();

// The timestamp at the start of a log line's prefix (everything before the
// host name), in the forms Debian's rsyslog and journalctl write:
//   "Nov 24 22:55:18", "Nov  4 22:55:18.123456"   (traditional; local, no year)
//   "2025-11-24T22:55:18.123456+01:00", "...+0100", "...Z", zone-less = local
//   "1764021318.123456"                             (journalctl -o short-unix)
//   "Mon 2025-11-24 22:55:18 CET"                   (journalctl -o short-full)
// A traditional timestamp has no year: it gets the latest year that does not
// put it more than a day after `reference` (the file's modification time, or
// now), since a log file cannot hold lines written after it was last changed.
std::optional<Timestamp> parse_log_timestamp(std::string_view text, Timestamp reference);

// A --since/--until argument: any form above, a date alone ("2025-11-24",
// local midnight), "YYYY-MM-DD HH:MM[:SS]", "@EPOCH", or a time relative to
// `reference`: "-30m", "-24h", "-7d", "-2w".
std::optional<Timestamp> parse_time_argument(std::string_view text, Timestamp reference);

// "2025-11-24T21:55:18Z": reports always print UTC, with the zone spelt out.
std::string format_iso(Timestamp time);

}  // namespace mtls::report
