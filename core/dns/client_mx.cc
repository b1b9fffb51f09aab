#include "dns/client_mx.h"

#include <fmt/format.h>

#include "dns/domain_name.h"

namespace mtls {

Expected<ClientMx> parse_client_mx_rdata(std::span<const std::uint8_t> rdata) {
    constexpr std::size_t kMaxWireName = 255;
    if (rdata.size() < 3) {
        return Error{"Client MX RDATA shorter than 3 bytes"};
    }
    ClientMx record;
    record.preference = static_cast<std::uint16_t>((rdata[0] << 8) | rdata[1]);

    const auto name = rdata.subspan(2);
    if (name.size() > kMaxWireName) {
        return Error{"Client MX target longer than 255 bytes"};
    }
    std::string text;
    std::size_t pos = 0;
    while (true) {
        if (pos >= name.size()) {
            return Error{"Client MX target is truncated"};
        }
        const std::uint8_t length = name[pos];
        if ((length & 0xC0) == 0xC0) {
            return Error{"Client MX target uses name compression"};
        }
        if (length > kMaxLabelLength) {
            return Error{"Client MX target has an invalid label type"};
        }
        ++pos;
        if (length == 0) {
            break;
        }
        if (pos + length > name.size()) {
            return Error{"Client MX target is truncated"};
        }
        if (!text.empty()) {
            text.push_back('.');
        }
        for (std::size_t i = 0; i < length; ++i) {
            const auto byte = name[pos + i];
            // A dot inside a label would change the name's meaning once
            // written out; canonical_host_name rejects every other oddity.
            if (byte == '.' || byte < 0x21 || byte > 0x7E) {
                return Error{"Client MX target is not a host name"};
            }
            text.push_back(static_cast<char>(byte));
        }
        pos += length;
    }
    if (pos != name.size()) {
        return Error{"Client MX RDATA has trailing bytes"};
    }
    if (text.empty()) {
        return record;  // the root: null Client MX
    }
    auto host = canonical_host_name(text);
    if (!host) {
        return Error{"Client MX target is not a host name: " + host.error()};
    }
    record.host = std::move(host).value();
    return record;
}

std::string to_presentation(const ClientMx& record) {
    return fmt::format("{} {}.", record.preference, record.host);
}

}  // namespace mtls
