#include "report_time.h"

#include <fmt/format.h>

#include <array>
#include <cctype>
#include <ctime>

namespace mtls::report {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::microseconds;
using std::chrono::minutes;
using std::chrono::seconds;

struct Civil {
    int year = 0;
    unsigned month = 0;
    unsigned day = 0;
    int hour = 0;
    int minute = 0;
    int second = 0;
    long micros = 0;
    std::optional<minutes> offset;  // east of UTC; none = local time
};

// A forward-only reader over the text; every getter fails without moving.
class Scanner {
public:
    explicit Scanner(std::string_view text) : text_(text) {}

    [[nodiscard]] bool done() const { return pos_ == text_.size(); }
    [[nodiscard]] std::string_view rest() const { return text_.substr(pos_); }

    bool literal(char c) {
        if (pos_ < text_.size() && text_[pos_] == c) {
            ++pos_;
            return true;
        }
        return false;
    }

    bool spaces() {
        const auto start = pos_;
        while (pos_ < text_.size() && text_[pos_] == ' ') {
            ++pos_;
        }
        return pos_ > start;
    }

    // Exactly `count` digits (or 1..count when `at_least_one`).
    std::optional<long long> digits(std::size_t count, bool at_least_one = false) {
        std::size_t n = 0;
        long long value = 0;
        while (n < count && pos_ + n < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_ + n])) != 0) {
            value = value * 10 + (text_[pos_ + n] - '0');
            ++n;
        }
        if (n == 0 || (!at_least_one && n != count)) {
            return std::nullopt;
        }
        pos_ += n;
        return value;
    }

    // ".123456": microseconds; more digits than six are read and dropped.
    long fraction() {
        if (!literal('.') && !literal(',')) {
            return 0;
        }
        long micros = 0;
        int n = 0;
        while (pos_ < text_.size() && std::isdigit(static_cast<unsigned char>(text_[pos_])) != 0) {
            if (n < 6) {
                micros = micros * 10 + (text_[pos_] - '0');
            }
            ++n;
            ++pos_;
        }
        for (; n < 6; ++n) {
            micros *= 10;
        }
        return micros;
    }

    std::optional<std::string_view> word() {
        const auto start = pos_;
        while (pos_ < text_.size() && std::isalpha(static_cast<unsigned char>(text_[pos_])) != 0) {
            ++pos_;
        }
        if (pos_ == start) {
            return std::nullopt;
        }
        return text_.substr(start, pos_ - start);
    }

private:
    std::string_view text_;
    std::size_t pos_ = 0;
};

std::optional<Timestamp> to_timestamp(const Civil& civil) {
    const std::chrono::year_month_day date{std::chrono::year{civil.year}, std::chrono::month{civil.month},
                                           std::chrono::day{civil.day}};
    // Years outside this range are junk in a mail log, and mktime and the
    // ISO output would not agree on them.
    if (civil.year < 1970 || civil.year > 9999 || !date.ok() || civil.hour > 23 || civil.minute > 59 ||
        civil.second > 60) {
        return std::nullopt;
    }
    const auto second = std::min(civil.second, 59);  // a leap second is not worth a bucket of its own
    if (civil.offset) {
        const auto utc = std::chrono::sys_days{date} + hours{civil.hour} + minutes{civil.minute} + seconds{second} -
                         *civil.offset + microseconds{civil.micros};
        return std::chrono::time_point_cast<microseconds>(utc);
    }
    std::tm local{};
    local.tm_year = civil.year - 1900;
    local.tm_mon = static_cast<int>(civil.month) - 1;
    local.tm_mday = static_cast<int>(civil.day);
    local.tm_hour = civil.hour;
    local.tm_min = civil.minute;
    local.tm_sec = second;
    local.tm_isdst = -1;  // let the zone rules say whether DST applied then
    const std::time_t epoch = std::mktime(&local);
    if (epoch == static_cast<std::time_t>(-1)) {
        return std::nullopt;
    }
    return Timestamp{seconds{epoch} + microseconds{civil.micros}};
}

// "HH:MM:SS[.ffffff]" or, when seconds_optional, "HH:MM".
bool read_clock(Scanner& in, Civil& civil, bool seconds_optional) {
    const auto hour = in.digits(2);
    if (!hour || !in.literal(':')) {
        return false;
    }
    const auto minute = in.digits(2);
    if (!minute) {
        return false;
    }
    civil.hour = static_cast<int>(*hour);
    civil.minute = static_cast<int>(*minute);
    if (!in.literal(':')) {
        return seconds_optional;
    }
    const auto second = in.digits(2);
    if (!second) {
        return false;
    }
    civil.second = static_cast<int>(*second);
    civil.micros = in.fraction();
    return true;
}

// "Z", "+01:00", "+0100", "+01", or nothing (local time).
bool read_offset(Scanner& in, Civil& civil) {
    if (in.literal('Z') || in.literal('z')) {
        civil.offset = minutes{0};
        return true;
    }
    int sign = 0;
    if (in.literal('+')) {
        sign = 1;
    } else if (in.literal('-')) {
        sign = -1;
    } else {
        return true;
    }
    const auto hh = in.digits(2);
    if (!hh) {
        return false;
    }
    in.literal(':');
    const auto mm = in.digits(2);
    if (*hh > 23 || (mm && *mm > 59)) {
        return false;
    }
    civil.offset = minutes{sign * (*hh * 60 + mm.value_or(0))};
    return true;
}

std::optional<unsigned> month_number(std::string_view name) {
    static constexpr std::array<std::string_view, 12> kMonths = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                                                 "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    for (std::size_t i = 0; i < kMonths.size(); ++i) {
        if (name == kMonths[i]) {
            return static_cast<unsigned>(i + 1);
        }
    }
    return std::nullopt;
}

// "2025-11-24" then, when `time_required` or a separator follows, "T22:55[:18]".
std::optional<Civil> read_iso(Scanner& in, bool time_required, bool allow_space_separator) {
    Civil civil;
    const auto year = in.digits(4);
    if (!year || !in.literal('-')) {
        return std::nullopt;
    }
    const auto month = in.digits(2);
    if (!month || !in.literal('-')) {
        return std::nullopt;
    }
    const auto day = in.digits(2);
    if (!day) {
        return std::nullopt;
    }
    civil.year = static_cast<int>(*year);
    civil.month = static_cast<unsigned>(*month);
    civil.day = static_cast<unsigned>(*day);
    const bool separator = in.literal('T') || in.literal('t') || (allow_space_separator && in.literal(' '));
    if (!separator) {
        return time_required ? std::nullopt : std::optional<Civil>(civil);
    }
    if (!read_clock(in, civil, allow_space_separator) || !read_offset(in, civil)) {
        return std::nullopt;
    }
    return civil;
}

// "Nov 24 22:55:18" with the year taken from `reference` (see the header).
std::optional<Timestamp> read_traditional(Scanner& in, Timestamp reference) {
    const auto name = in.word();
    if (!name) {
        return std::nullopt;
    }
    const auto month = month_number(*name);
    in.spaces();
    const auto day = in.digits(2, true);
    if (!month || !day || !in.spaces()) {
        return std::nullopt;
    }
    Civil civil;
    civil.month = *month;
    civil.day = static_cast<unsigned>(*day);
    if (!read_clock(in, civil, false) || !in.done()) {
        return std::nullopt;
    }
    const std::chrono::year_month_day ref{std::chrono::floor<days>(reference)};
    // Four years back at most, so that 29 February finds its leap year.
    for (int year = static_cast<int>(ref.year()) + 1; year >= static_cast<int>(ref.year()) - 4; --year) {
        civil.year = year;
        const auto time = to_timestamp(civil);
        if (time && *time <= reference + days{1}) {
            return time;
        }
    }
    return std::nullopt;
}

std::optional<Timestamp> read_epoch(Scanner& in) {
    const auto epoch = in.digits(12, true);
    if (!epoch) {
        return std::nullopt;
    }
    const long micros = in.fraction();
    if (!in.done()) {
        return std::nullopt;
    }
    return Timestamp{seconds{*epoch} + microseconds{micros}};
}

// "Mon 2025-11-24 22:55:18 CET": the abbreviation cannot be mapped to an
// offset without a zone database, so only UTC/GMT count as explicit; any
// other name is taken to be the local zone that journalctl printed it in.
std::optional<Timestamp> read_short_full(Scanner& in) {
    if (!in.word() || !in.spaces()) {
        return std::nullopt;
    }
    auto civil = read_iso(in, true, true);
    if (!civil) {
        return std::nullopt;
    }
    if (in.spaces()) {
        const auto zone = in.word();
        if (zone && (*zone == "UTC" || *zone == "GMT")) {
            civil->offset = minutes{0};
        }
    }
    return to_timestamp(*civil);
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && text.front() == ' ') {
        text.remove_prefix(1);
    }
    while (!text.empty() && text.back() == ' ') {
        text.remove_suffix(1);
    }
    return text;
}

}  // namespace

Timestamp now() {
    return std::chrono::time_point_cast<microseconds>(std::chrono::system_clock::now());
}

std::optional<Timestamp> parse_log_timestamp(std::string_view text, Timestamp reference) {
    text = trim(text);
    if (text.empty()) {
        return std::nullopt;
    }
    const auto first = static_cast<unsigned char>(text.front());
    if (std::isdigit(first) != 0) {
        {
            Scanner in(text);
            if (auto civil = read_iso(in, true, false); civil && in.done()) {
                return to_timestamp(*civil);
            }
        }
        Scanner in(text);
        return read_epoch(in);
    }
    if (std::isalpha(first) != 0) {
        {
            Scanner in(text);
            if (auto time = read_traditional(in, reference)) {
                return time;
            }
        }
        Scanner in(text);
        auto time = read_short_full(in);
        return time;
    }
    return std::nullopt;
}

std::optional<Timestamp> parse_time_argument(std::string_view text, Timestamp reference) {
    text = trim(text);
    if (text.size() >= 2 && text.front() == '-') {
        Scanner in(text.substr(1));
        const auto count = in.digits(9, true);
        const auto unit = in.word();
        if (!count || !unit || !in.done()) {
            return std::nullopt;
        }
        const auto n = static_cast<long>(*count);
        if (*unit == "s") {
            return reference - seconds{n};
        }
        if (*unit == "m") {
            return reference - minutes{n};
        }
        if (*unit == "h") {
            return reference - hours{n};
        }
        if (*unit == "d") {
            return reference - days{n};
        }
        if (*unit == "w") {
            return reference - days{7 * n};
        }
        return std::nullopt;
    }
    if (text.size() >= 2 && text.front() == '@') {
        Scanner in(text.substr(1));
        return read_epoch(in);
    }
    {
        Scanner in(text);
        if (auto civil = read_iso(in, false, true); civil && in.done()) {
            return to_timestamp(*civil);
        }
    }
    return parse_log_timestamp(text, reference);
}

std::string format_iso(Timestamp time) {
    const auto day = std::chrono::floor<days>(time);
    const std::chrono::year_month_day date{day};
    const std::chrono::hh_mm_ss clock{std::chrono::floor<seconds>(time - day)};
    return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", static_cast<int>(date.year()),
                       static_cast<unsigned>(date.month()), static_cast<unsigned>(date.day()), clock.hours().count(),
                       clock.minutes().count(), clock.seconds().count());
}

}  // namespace mtls::report
