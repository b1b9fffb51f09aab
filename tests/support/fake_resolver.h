// A scripted Resolver for unit tests: answers what it was told to, leaves
// everything else pending (to be answered later, or to time out), throws
// where told to (as a resolver out of resources may), and records every
// lookup started and every cancellation.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "dns/client_mx.h"
#include "dns/resolver.h"

namespace mtls::testing {

// Client MX RDATA in wire format; "" or "." gives the null record.
inline std::vector<std::uint8_t> client_mx_rdata(std::uint16_t preference, std::string_view host) {
    std::vector<std::uint8_t> out = {static_cast<std::uint8_t>(preference >> 8),
                                     static_cast<std::uint8_t>(preference & 0xff)};
    if (!host.empty() && host.back() == '.') {
        host.remove_suffix(1);
    }
    while (!host.empty()) {
        const auto dot = host.find('.');
        const auto label = host.substr(0, dot);
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        host = dot == std::string_view::npos ? std::string_view() : host.substr(dot + 1);
    }
    out.push_back(0);
    return out;
}

// TLSA RDATA in wire format. Built byte by byte: GCC 12 misreports insert()
// after an initializer list as out of bounds (-Warray-bounds).
inline std::vector<std::uint8_t> tlsa_rdata(std::uint8_t usage, std::uint8_t selector, std::uint8_t matching,
                                            std::span<const std::uint8_t> data) {
    std::vector<std::uint8_t> out;
    out.reserve(3 + data.size());
    out.push_back(usage);
    out.push_back(selector);
    out.push_back(matching);
    for (const auto byte : data) {
        out.push_back(byte);
    }
    return out;
}

// A secure (by default) answer with TLSA records.
inline DnsAnswer tlsa_answer(std::vector<std::vector<std::uint8_t>> rdata, DnssecState dnssec = DnssecState::secure) {
    DnsAnswer answer;
    answer.status = AnswerStatus::records;
    answer.dnssec = dnssec;
    answer.rdata = std::move(rdata);
    return answer;
}

// An answer with Client MX records.
inline DnsAnswer records_answer(const std::vector<ClientMx>& records, DnssecState dnssec = DnssecState::secure) {
    DnsAnswer answer;
    answer.status = AnswerStatus::records;
    answer.dnssec = dnssec;
    for (const auto& record : records) {
        answer.rdata.push_back(client_mx_rdata(record.preference, record.host));
    }
    return answer;
}

// A secure (by default) TXT answer: one record per text, each a single
// character-string (at most 255 bytes). Byte by byte, as tlsa_rdata.
inline DnsAnswer txt_answer(const std::vector<std::string>& texts, DnssecState dnssec = DnssecState::secure) {
    DnsAnswer answer;
    answer.status = AnswerStatus::records;
    answer.dnssec = dnssec;
    for (const auto& text : texts) {
        std::vector<std::uint8_t> rdata;
        rdata.reserve(1 + text.size());
        rdata.push_back(static_cast<std::uint8_t>(text.size()));
        for (const char byte : text) {
            rdata.push_back(static_cast<std::uint8_t>(byte));
        }
        answer.rdata.push_back(std::move(rdata));
    }
    return answer;
}

// A secure (by default) A answer: 192.0.2.25.
inline DnsAnswer address_answer(DnssecState dnssec = DnssecState::secure) {
    DnsAnswer answer;
    answer.status = AnswerStatus::records;
    answer.dnssec = dnssec;
    answer.rdata = {{192, 0, 2, 25}};
    return answer;
}

// An answer without records (nxdomain, nodata, servfail, bogus, error ...).
inline DnsAnswer status_answer(AnswerStatus status, DnssecState dnssec = DnssecState::unknown) {
    DnsAnswer answer;
    answer.status = status;
    answer.dnssec = dnssec;
    return answer;
}

class FakeResolver final : public Resolver {
public:
    struct Started {
        std::string name;
        std::uint16_t type = 0;
        std::chrono::milliseconds timeout{0};
        std::shared_ptr<AnswerSlot> slot;
    };

    // Lookups of name (any type) are answered at once with answer.
    void script(std::string name, DnsAnswer answer) {
        const std::lock_guard lock(mutex_);
        scripted_[std::move(name)] = std::move(answer);
    }

    // Starting a lookup of name (any type) throws std::runtime_error.
    void fail(std::string name) {
        const std::lock_guard lock(mutex_);
        failing_.insert(std::move(name));
    }

    Lookup start(std::string_view name, std::uint16_t type, std::chrono::milliseconds timeout) override {
        const auto now = Clock::now();
        auto slot = std::make_shared<AnswerSlot>();
        {
            const std::lock_guard lock(mutex_);
            if (failing_.contains(name)) {
                throw std::runtime_error("fake resolver failure");
            }
            started_.push_back(Started{std::string(name), type, timeout, slot});
            if (const auto it = scripted_.find(std::string(name)); it != scripted_.end()) {
                slot->fulfil(it->second);
            }
        }
        return Lookup(slot, now, now + timeout, [cancels = cancels_] { ++*cancels; });
    }

    // Answers the index-th lookup started (one still pending, say).
    void answer(std::size_t index, DnsAnswer answer) {
        std::shared_ptr<AnswerSlot> slot;
        {
            const std::lock_guard lock(mutex_);
            slot = started_.at(index).slot;
        }
        slot->fulfil(std::move(answer));
    }

    [[nodiscard]] std::vector<Started> started() const {
        const std::lock_guard lock(mutex_);
        return started_;
    }
    [[nodiscard]] std::size_t start_count() const {
        const std::lock_guard lock(mutex_);
        return started_.size();
    }
    // Cancellations, counted even after the lookup outlived this resolver.
    [[nodiscard]] int cancel_count() const { return cancels_->load(); }

private:
    mutable std::mutex mutex_;
    std::map<std::string, DnsAnswer> scripted_;
    std::set<std::string, std::less<>> failing_;
    std::vector<Started> started_;
    std::shared_ptr<std::atomic<int>> cancels_ = std::make_shared<std::atomic<int>>(0);
};

}  // namespace mtls::testing
