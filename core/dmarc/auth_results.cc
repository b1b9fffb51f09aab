#include "dmarc/auth_results.h"

#include <fmt/format.h>

#include <algorithm>
#include <array>

#include "dns/domain_name.h"
#include "mail/authentication_results_reader.h"

namespace mtls::dmarc {
namespace {

constexpr std::array<std::string_view, 7> kDkimResults = {"none",    "pass",      "fail",     "policy",
                                                          "neutral", "temperror", "permerror"};
constexpr std::array<std::string_view, 8> kSpfResults = {"none",   "pass",    "fail",      "softfail",
                                                         "policy", "neutral", "temperror", "permerror"};

bool is_pass(const DkimAuthResult& result) {
    return result.result == "pass";
}

bool is_label_char(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

}  // namespace

bool is_dkim_result(std::string_view word) {
    return std::find(kDkimResults.begin(), kDkimResults.end(), word) != kDkimResults.end();
}

bool is_spf_result(std::string_view word) {
    return std::find(kSpfResults.begin(), kSpfResults.end(), word) != kSpfResults.end();
}

Expected<std::string> canonical_selector(std::string_view text) {
    if (text.empty() || text.size() > kMaxDomainLength) {
        return Error{"selector empty or too long"};
    }
    const std::string out = ascii_lower(text);
    std::size_t label = 0;
    for (const char c : out) {
        if (c == '.') {
            if (label == 0) {
                return Error{"empty selector label"};
            }
            label = 0;
        } else if (!is_label_char(c) || ++label > kMaxLabelLength) {
            return Error{"not a selector"};
        }
    }
    if (label == 0) {
        return Error{"empty selector label"};
    }
    return out;
}

std::optional<DkimAuthResult> dkim_auth_result(const MethodResult& resinfo) {
    if (resinfo.method != "dkim" || !is_dkim_result(resinfo.result)) {
        return std::nullopt;
    }
    std::string_view domain;
    if (const auto d = resinfo.property("header", "d")) {
        domain = *d;
    } else if (const auto i = resinfo.property("header", "i")) {
        domain = i->substr(i->rfind('@') == std::string_view::npos ? 0 : i->rfind('@') + 1);
    }
    auto canonical = canonical_host_name(domain);
    if (!canonical) {
        return std::nullopt;
    }
    DkimAuthResult out{std::move(canonical).value(), {}, resinfo.result};
    if (const auto s = resinfo.property("header", "s")) {
        if (auto selector = canonical_selector(*s)) {
            out.selector = std::move(selector).value();
        }
    }
    return out;
}

void add_dkim_result(std::vector<DkimAuthResult>& results, DkimAuthResult result) {
    if (std::find(results.begin(), results.end(), result) != results.end()) {
        return;
    }
    if (results.size() < kMaxDkimResultsRead) {
        results.push_back(std::move(result));
        return;
    }
    if (is_pass(result)) {
        const auto other = std::find_if(results.rbegin(), results.rend(), [](const auto& r) { return !is_pass(r); });
        if (other != results.rend()) {
            *other = std::move(result);
        }
    }
}

std::vector<DkimAuthResult> reported_dkim_results(std::vector<DkimAuthResult> results, std::string_view author_domain,
                                                  std::string_view organizational_domain) {
    const auto rank = [&](const DkimAuthResult& r) {
        if (!is_pass(r)) {
            return 3;
        }
        if (!author_domain.empty() && r.domain == author_domain) {
            return 0;
        }
        return !organizational_domain.empty() && is_at_or_below(r.domain, organizational_domain) ? 1 : 2;
    };
    std::stable_sort(results.begin(), results.end(), [&](const auto& a, const auto& b) { return rank(a) < rank(b); });
    if (results.size() > kMaxDkimResultsLogged) {
        results.resize(kMaxDkimResultsLogged);
    }
    return results;
}

std::string dkim_results_text(const std::vector<DkimAuthResult>& results) {
    std::string out;
    for (const auto& r : results) {
        const auto entry = fmt::format("{}{}:{}:{}", out.empty() ? "" : ",", r.domain, r.selector, r.result);
        if (out.size() + entry.size() <= kMaxAuthResultsText) {
            out += entry;
        }
    }
    return out.empty() ? std::string("-") : out;
}

Expected<std::vector<DkimAuthResult>> dkim_results_from_text(std::string_view text) {
    std::vector<DkimAuthResult> out;
    if (text == "-") {
        return out;
    }
    if (text.size() > kMaxAuthResultsText) {
        return Error{"too long"};
    }
    while (true) {
        const auto comma = text.find(',');
        const auto entry = text.substr(0, comma);
        const auto first = entry.find(':');
        const auto second = first == std::string_view::npos ? first : entry.find(':', first + 1);
        if (second == std::string_view::npos) {
            return Error{"not domain:selector:result"};
        }
        const auto domain = entry.substr(0, first);
        const auto selector = entry.substr(first + 1, second - first - 1);
        const auto result = entry.substr(second + 1);
        const auto canonical = canonical_host_name(domain);
        if (!canonical || *canonical != domain) {
            return Error{"not a domain"};
        }
        if (!selector.empty()) {
            const auto valid = canonical_selector(selector);
            if (!valid || *valid != selector) {
                return Error{"not a selector"};
            }
        }
        if (!is_dkim_result(result)) {
            return Error{"not a DKIM result"};
        }
        if (out.size() == kMaxDkimResultsLogged) {
            return Error{"too many results"};
        }
        out.push_back({std::string(domain), std::string(selector), std::string(result)});
        if (comma == std::string_view::npos) {
            return out;
        }
        text.remove_prefix(comma + 1);
    }
}

}  // namespace mtls::dmarc
