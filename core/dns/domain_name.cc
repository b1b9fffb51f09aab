#include "dns/domain_name.h"

#include <idn2.h>

#include <algorithm>
#include <memory>

#include "base/free_with.h"

namespace mtls {
namespace {

bool is_ascii(std::string_view text) {
    return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

bool is_let_dig(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

Expected<std::string> to_a_labels(std::string_view text) {
    // idn2 wants a NUL-terminated string; an embedded NUL must not truncate
    // the name silently into something else.
    if (text.find('\0') != std::string_view::npos) {
        return Error{"name contains a NUL byte"};
    }
    const std::string input(text);
    char* output = nullptr;
    const int rc = idn2_to_ascii_8z(input.c_str(), &output, IDN2_NONTRANSITIONAL | IDN2_NFC_INPUT);
    const std::unique_ptr<char, FreeWith<&idn2_free>> owned(output);
    if (rc != IDN2_OK) {
        return Error{std::string("not a valid internationalized name: ") + idn2_strerror(rc)};
    }
    return std::string(owned.get());
}

Expected<std::string> check_ldh(std::string name) {
    if (name.empty()) {
        return Error{"empty name"};
    }
    if (name.size() > kMaxDomainLength) {
        return Error{"name longer than 253 characters"};
    }
    std::size_t label_start = 0;
    std::string_view last_label;
    while (label_start <= name.size()) {
        std::size_t dot = name.find('.', label_start);
        if (dot == std::string::npos) {
            dot = name.size();
        }
        const std::string_view label(name.data() + label_start, dot - label_start);
        if (label.empty()) {
            return Error{"empty label"};
        }
        if (label.size() > kMaxLabelLength) {
            return Error{"label longer than 63 characters"};
        }
        if (!is_let_dig(label.front()) || !is_let_dig(label.back())) {
            return Error{"label must start and end with a letter or digit"};
        }
        if (!std::all_of(label.begin(), label.end(), [](char c) { return is_let_dig(c) || c == '-'; })) {
            return Error{"label has a character other than letters, digits and hyphen"};
        }
        last_label = label;
        label_start = dot + 1;
    }
    if (std::all_of(last_label.begin(), last_label.end(), [](char c) { return c >= '0' && c <= '9'; })) {
        return Error{"top-level label is numeric (an address, not a domain)"};
    }
    if (name.starts_with("xn--") || name.find(".xn--") != std::string::npos) {
        // An A-label must decode: "xn--zz" is LDH but no IDN, and would
        // compare unequal to the same name written correctly.
        char* decoded = nullptr;
        const int rc = idn2_to_unicode_8z8z(name.c_str(), &decoded, 0);
        const std::unique_ptr<char, FreeWith<&idn2_free>> owned(decoded);
        if (rc != IDN2_OK) {
            return Error{std::string("invalid A-label: ") + idn2_strerror(rc)};
        }
    }
    return name;
}

}  // namespace

std::string ascii_lower(std::string_view text) {
    std::string out(text);
    std::transform(out.begin(), out.end(), out.begin(),
                   [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; });
    return out;
}

bool ascii_iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               const auto lower = [](char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; };
               return lower(x) == lower(y);
           });
}

bool is_at_or_below(std::string_view domain, std::string_view name) {
    return domain == name ||
           (domain.size() > name.size() && domain.ends_with(name) && domain[domain.size() - name.size() - 1] == '.');
}

Expected<std::string> canonical_host_name(std::string_view text) {
    if (!text.empty() && text.back() == '.') {
        text.remove_suffix(1);
    }
    if (text.empty()) {
        return Error{"empty name"};
    }
    if (text.size() > 4 * kMaxDomainLength) {
        return Error{"name far too long"};  // before handing it to libidn2
    }
    if (is_ascii(text)) {
        return check_ldh(ascii_lower(text));
    }
    auto converted = to_a_labels(text);
    if (!converted) {
        return converted;
    }
    return check_ldh(ascii_lower(converted.value()));
}

Expected<std::string> canonical_certificate_name(std::string_view text) {
    if (text.size() >= 2 && text.substr(0, 2) == "*.") {
        auto rest = canonical_host_name(text.substr(2));
        if (!rest) {
            return rest;
        }
        return "*." + rest.value();
    }
    return canonical_host_name(text);
}

}  // namespace mtls
