// Property target for the header we write: format_authentication_results
// over identities and verdicts built from fuzz data by the same code the
// milter uses (identity_from_envelope, canonical_certificate_name through
// add_presented_name, parse_client_mx_rdata through decide).
//
// Input: 4 control bytes, then NUL-separated fields:
//   authserv-id NUL reverse-path NUL helo NUL text NUL host...
//   control[0] bit 0: 0 = the verdict comes from decide() over Client MX
//                     records for the hosts and a certificate named text;
//                     1 = a Verdict made directly: reason = text (printable
//                     ASCII, as every reason of ours is), matched host = the
//                     first host canonicalised.
//   control[1]: answer status (decide) or result (direct)
//   control[2]: DNSSEC state; control[3]: policy and certificate bits.
// The authserv-id field is used when it is a token (as settings_from demands
// of the configured one), else "mx.example.net".
//
// Properties of the output (one RFC 8601 field body, as it goes to
// smfi_insheader): no CR; every LF followed by a TAB; otherwise printable
// ASCII only; no line of white space only; parse_authserv_id gives our id
// back; exactly one "mtls=" result, the verdict's; every line at most 78
// columns (the first counting "Authentication-Results: ", a TAB counting 8)
// unless it holds a single word.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "dns/domain_name.h"
#include "fuzz_support.h"
#include "mail/authentication_results.h"
#include "mail/identity.h"
#include "mtls/verdict.h"
#include "tls/tls_evidence.h"

using namespace mtls;

namespace {

constexpr std::size_t kFields = 8;  // authserv-id, reverse-path, helo, text, up to 4 hosts
constexpr std::size_t kFirstHost = 4;

std::vector<std::uint8_t> wire_rdata(std::uint16_t preference, std::string_view host) {
    std::vector<std::uint8_t> out = {static_cast<std::uint8_t>(preference >> 8),
                                     static_cast<std::uint8_t>(preference & 0xff)};
    while (!host.empty()) {
        const auto dot = host.find('.');
        const auto label = host.substr(0, std::min<std::size_t>(dot, 255));
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        host = dot == std::string_view::npos ? std::string_view() : host.substr(dot + 1);
    }
    out.push_back(0);
    return out;
}

std::string printable_ascii(std::string_view text) {
    std::string out;
    for (const char c : text) {
        if (c >= 0x20 && c < 0x7f) {
            out.push_back(c);
        }
    }
    return out;
}

Verdict verdict_from_decide(const std::uint8_t* control, const std::vector<std::string_view>& fields) {
    DnsAnswer answer;
    answer.status = static_cast<AnswerStatus>(control[1] % 7);
    answer.dnssec = static_cast<DnssecState>(control[2] % 4);
    for (std::size_t i = kFirstHost; i < fields.size(); ++i) {
        if (!fields[i].empty() || i == kFirstHost) {
            answer.rdata.push_back(wire_rdata(static_cast<std::uint16_t>(i * 10), fields[i]));
        }
    }
    TlsEvidence evidence;
    evidence.status = (control[3] & 4) != 0 ? CertificateStatus::verified : CertificateStatus::unverified;
    add_presented_name(evidence, fields[3]);
    VerdictSettings policy;
    policy.require_dnssec = (control[3] & 1) != 0;
    policy.allow_wildcards = (control[3] & 2) != 0;
    return decide(answer, evidence, policy);
}

Verdict verdict_made_directly(const std::uint8_t* control, const std::vector<std::string_view>& fields) {
    Verdict verdict;
    verdict.result = static_cast<Result>(control[1] % 5);
    verdict.dnssec = static_cast<DnssecState>(control[2] % 4);
    verdict.reason = printable_ascii(fields[3]);
    if (auto host = canonical_host_name(fields[kFirstHost])) {
        verdict.matched_host = std::move(host).value();
    }
    return verdict;
}

// Words of a line, a quoted-string counting as one word (the writer never
// breaks one).
std::vector<std::string_view> words_of(std::string_view line) {
    std::vector<std::string_view> words;
    std::size_t start = 0;
    bool quoted = false;
    for (std::size_t i = 0; i <= line.size(); ++i) {
        if (i < line.size() && quoted && line[i] == '\\') {
            ++i;
            continue;
        }
        if (i < line.size() && line[i] == '"') {
            quoted = !quoted;
        }
        if (i == line.size() || (!quoted && (line[i] == ' ' || line[i] == '\t'))) {
            if (i > start) {
                words.push_back(line.substr(start, i - start));
            }
            start = i + 1;
        }
    }
    return words;
}

// The top-level items after the authserv-id: comments dropped, quoted
// strings kept whole, split at white space, ";" as an item of its own.
std::vector<std::string> top_level_items(std::string_view body, std::string_view input) {
    std::vector<std::string> items;
    std::string current;
    int depth = 0;
    bool quoted = false;
    const auto flush = [&] {
        if (!current.empty()) {
            items.push_back(current);
            current.clear();
        }
    };
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (quoted) {
            current.push_back(c);
            if (c == '\\' && i + 1 < body.size()) {
                current.push_back(body[++i]);
            } else if (c == '"') {
                quoted = false;
            }
        } else if (depth > 0) {
            if (c == '\\') {
                ++i;
            } else if (c == '(') {
                ++depth;
            } else if (c == ')') {
                --depth;
            }
        } else if (c == '(') {
            flush();
            depth = 1;
        } else if (c == '"') {
            current.push_back(c);
            quoted = true;
        } else if (c == ' ' || c == '\t' || c == '\n') {
            flush();
        } else if (c == ';') {
            flush();
            items.emplace_back(";");
        } else {
            current.push_back(c);
        }
    }
    FUZZ_CHECK(!quoted && depth == 0, input);
    flush();
    return items;
}

void check_header(std::string_view id, const Identity& identity, const Verdict& verdict, std::string_view body,
                  std::string_view input) {
    const std::string context = std::string(input) + " => " + std::string(body);

    // Characters and folding.
    for (std::size_t i = 0; i < body.size(); ++i) {
        const char c = body[i];
        if (c == '\n') {
            FUZZ_CHECK(i + 1 < body.size() && body[i + 1] == '\t', context);
            ++i;
        } else {
            FUZZ_CHECK(c >= 0x20 && c < 0x7f, context);
        }
    }

    // Line lengths.
    std::size_t start = 0;
    bool first = true;
    while (start <= body.size()) {
        auto end = body.find('\n', start);
        if (end == std::string_view::npos) {
            end = body.size();
        }
        std::string_view line = body.substr(start, end - start);
        std::size_t columns = kAuthenticationResults.size() + 2 + line.size();
        if (!first) {
            line.remove_prefix(1);  // the TAB
            columns = 8 + line.size();
        }
        FUZZ_CHECK(line.find_first_not_of(' ') != std::string_view::npos, context);
        FUZZ_CHECK(columns <= kFoldColumn || words_of(line).size() == 1, context);
        first = false;
        start = end + 1;
    }

    // Structure: our id, then exactly one result, mtls=<the verdict's>.
    const auto parsed = parse_authserv_id(body);
    FUZZ_CHECK(parsed && *parsed == id, context);
    FUZZ_CHECK(claims_authserv_id(body, id), context);
    const auto items = top_level_items(body, context);
    FUZZ_CHECK(items.size() >= 3 && items[0] == id && items[1] == ";", context);
    FUZZ_CHECK(items[2] == "mtls=" + std::string(to_string(verdict.result)), context);
    std::size_t results = 0;
    std::string property;
    for (std::size_t i = 2; i < items.size(); ++i) {
        const std::string& item = items[i];
        FUZZ_CHECK(item != ";", context);
        const auto equals = item.find('=');
        FUZZ_CHECK(equals != std::string::npos && equals > 0, context);
        const auto key = ascii_lower(item.substr(0, equals));
        if (key == "mtls") {
            ++results;
        } else if (key == "smtp.mailfrom" || key == "smtp.helo") {
            FUZZ_CHECK(property.empty(), context);
            property = item;
        } else {
            FUZZ_CHECK(key == "reason" && item[equals + 1] == '"' && item.back() == '"', context);
        }
    }
    FUZZ_CHECK(results == 1, context);
    if (identity.usable()) {
        FUZZ_CHECK(property == std::string(property_name(identity.kind)) + "=" + identity.domain, context);
    } else {
        FUZZ_CHECK(property.empty(), context);
    }
    if (!verdict.matched_host.empty()) {
        FUZZ_CHECK(body.find(verdict.matched_host) != std::string_view::npos, context);
    }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    constexpr std::size_t kControl = 4;
    if (size < kControl) {
        return 0;
    }
    const auto input = fuzz::as_text(data, size);
    const auto fields = fuzz::split_fields(input.substr(kControl), kFields);
    const std::string id = is_token(fields[0]) ? std::string(fields[0]) : std::string("mx.example.net");

    const Identity identity = identity_from_envelope(fields[1], fields[2]);
    Verdict verdict;
    if ((data[0] & 1) != 0) {
        verdict = verdict_made_directly(data, fields);
    } else if (!identity.usable()) {
        verdict = verdict_for_unusable_identity(identity);
    } else {
        verdict = verdict_from_decide(data, fields);
    }
    const std::string body = format_authentication_results(id, identity, verdict);
    check_header(id, identity, verdict, body, input);
    return 0;
}
