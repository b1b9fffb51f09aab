// Helpers for the DMARC tests: walk answers written as the DNS would give them.
#pragma once

#include <string>
#include <vector>

#include "dmarc/tree_walk.h"

namespace mtls::dmarc::testing {

inline WalkAnswer txt(std::vector<std::string> texts, DnssecState dnssec = DnssecState::secure) {
    WalkAnswer answer;
    answer.kind = WalkAnswer::Kind::records;
    answer.dnssec = dnssec;
    answer.texts = std::move(texts);
    return answer;
}

inline WalkAnswer no_record() {
    WalkAnswer answer;
    answer.kind = WalkAnswer::Kind::no_record;
    answer.dnssec = DnssecState::secure;
    return answer;
}

inline WalkAnswer failed(std::string why) {
    WalkAnswer answer;
    answer.kind = WalkAnswer::Kind::error;
    answer.error = std::move(why);
    return answer;
}

// Every walk name of each domain answered "no record", then the given ones.
inline WalkAnswers walk(std::initializer_list<std::string> domains,
                        std::initializer_list<std::pair<const std::string, WalkAnswer>> answers) {
    WalkAnswers out;
    for (const auto& domain : domains) {
        for (const auto& name : walk_domains(domain)) {
            out.emplace(name, no_record());
        }
    }
    for (const auto& [name, answer] : answers) {
        out.insert_or_assign(name, answer);
    }
    return out;
}

}  // namespace mtls::dmarc::testing
