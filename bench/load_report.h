// What the two load generators (milter_load, smtp_load) share when they
// print their JSON summary: latency percentiles and the error samples.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

namespace bench {

// The q-quantile (0..1) of a sorted sample, nearest rank; 0 when empty.
inline uint32_t percentile(const std::vector<uint32_t>& sorted, double q) {
    if (sorted.empty())
        return 0;
    const auto idx = static_cast<std::size_t>(q * static_cast<double>(sorted.size() - 1) + 0.5);
    return sorted[std::min(idx, sorted.size() - 1)];
}

// The samples as the elements of a JSON array of strings; characters that
// would need escaping become `replacement` (the texts are diagnostics only).
inline void print_error_samples(const std::vector<std::string>& samples, char replacement) {
    for (std::size_t i = 0; i < samples.size(); ++i) {
        std::string e = samples[i];
        for (auto& c : e) {
            if (c == '"' || c == '\\' || static_cast<unsigned char>(c) < 0x20)
                c = replacement;
        }
        std::printf("%s\"%s\"", i ? ", " : "", e.c_str());
    }
}

}  // namespace bench
