// mtls-sts-store-fill: writes one MTA-STS policy for each domain read from
// standard input (one a line) into mtls-tlspolicy's policy store, as if the
// daemon had just fetched it: the daemon's own make_cached_policy() and
// StsPolicyCache::put(), so the rows are exactly the ones the daemon writes
// and reads back (no schema of its own here).
//
// For the benchmark (bench/tlspolicy_bench.py): caching 100,000 domains by
// fetching each over the bench's Python HTTPS server (a TLS handshake in
// Python each) would make the memory run the longest part of the bench,
// and what it measures is the daemon holding them, not the fetches. Usage:
//   mtls-sts-store-fill CACHE CACHE_SIZE ID POLICY_FILE < domains
// CACHE as mtls-tlspolicy's `cache` option (a SQLite file or redis://...),
// CACHE_SIZE its `cache-size`, ID the _mta-sts TXT id the zone publishes.
#include <cstdio>
#include <exception>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>

#include "mtls/verdict_record.h"
#include "policy_engine.h"
#include "sts_policy_cache.h"

using namespace mtls;
using namespace mtls::tlspolicy;

int main(int argc, char** argv) {
    if (argc != 5) {
        std::fprintf(stderr, "usage: %s CACHE CACHE_SIZE ID POLICY_FILE < domains\n", argv[0]);
        return 2;
    }
    try {
        const auto location = parse_store_location(argv[1]);
        if (!location) {
            throw std::runtime_error(location.error());
        }
        const auto size = static_cast<std::size_t>(std::stoul(argv[2]));
        const std::string id = argv[3];
        std::ifstream policy_file(argv[4]);
        std::stringstream text;
        text << policy_file.rdbuf();
        if (!policy_file) {
            throw std::runtime_error(std::string("cannot read ") + argv[4]);
        }
        bool store_failed = false;
        // The in-memory side of the cache is this process's and goes with it;
        // the store is what the daemon reads on a miss.
        StsPolicyCache cache(open_policy_store(*location, size), size, [&](Severity, std::string_view line) {
            store_failed = true;
            std::fprintf(stderr, "%s\n", escape_for_log(line).c_str());
        });
        const auto now = unix_now();
        std::size_t written = 0;
        for (std::string domain; std::getline(std::cin, domain) && !store_failed;) {
            if (domain.empty()) {
                continue;
            }
            auto entry = make_cached_policy(domain, id, text.str(), now);
            if (!entry) {
                throw std::runtime_error(entry.error());
            }
            cache.put(*entry);
            ++written;
        }
        if (store_failed) {
            return 1;
        }
        std::printf("%zu\n", written);
        return 0;
    } catch (const std::exception& error) {
        std::fprintf(stderr, "mtls-sts-store-fill: %s\n", escape_for_log(error.what()).c_str());
        return 1;
    }
}
