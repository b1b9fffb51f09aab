// Certificate fingerprints learnt on Postfix's policy channel, kept per SMTP
// connection until the milter side of the same connection asks for them.
// Postfix's milter macros carry no fingerprint, its policy requests do (even
// for unverified certificates); both sides name the connection by the
// client's address and port. Entries are bounded in number and age, and an
// entry recorded before a milter connection began is never handed to it: an
// address and port can be reused by a later connection.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <list>
#include <mutex>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "base/ip_address.h"
#include "server/listen_address.h"
#include "tls/fingerprint.h"

namespace mtls::milter {

using StoreClock = std::chrono::steady_clock;

class FingerprintStore {
public:
    // policy-max-sessions and policy-lifetime (core/options/setting_options.cc).
    struct Limits {
        std::size_t max_sessions = 0;
        std::chrono::seconds lifetime{};
    };
    // Called (outside the store's lock) for each entry dropped because it
    // expired or was evicted before any milter connection claimed it.
    using UnclaimedHandler = std::function<void(const Endpoint&, std::string_view why)>;

    explicit FingerprintStore(Limits limits, UnclaimedHandler on_unclaimed = {});

    // The policy channel saw these fingerprints on this connection (a later
    // request for the same connection replaces them).
    void record(const Endpoint& client, const Fingerprints& fingerprints, StoreClock::time_point now);

    // The fingerprints recorded for this client at or after `since` (when the
    // milter connection began) and not yet expired. Marks the entry claimed.
    std::optional<Fingerprints> find(const Endpoint& client, StoreClock::time_point since, StoreClock::time_point now);

    // The milter connection ended: its entry (if recorded at or after
    // `since`) is dropped.
    void forget(const Endpoint& client, StoreClock::time_point since);

    [[nodiscard]] std::size_t size() const;

private:
    struct Key {
        std::array<std::uint8_t, 16> address{};
        bool v6 = false;
        std::uint16_t port = 0;
        bool operator==(const Key&) const = default;
    };
    struct KeyHash {
        std::size_t operator()(const Key& key) const noexcept;
    };
    struct Entry {
        Endpoint client;
        Fingerprints fingerprints;
        StoreClock::time_point recorded;
        bool claimed = false;
        std::list<Key>::iterator position;  // in order_
    };
    struct Dropped {
        Endpoint client;
        std::string_view why;
    };

    static Key key_of(const Endpoint& client);
    // Under mutex_: removes expired entries from the oldest end.
    void expire_locked(StoreClock::time_point now, std::vector<Dropped>& dropped);
    void erase_locked(std::unordered_map<Key, Entry, KeyHash>::iterator entry);
    void report(const std::vector<Dropped>& dropped) const;

    Limits limits_;
    UnclaimedHandler on_unclaimed_;
    mutable std::mutex mutex_;
    std::unordered_map<Key, Entry, KeyHash> entries_;
    std::list<Key> order_;  // oldest record first
};

}  // namespace mtls::milter
