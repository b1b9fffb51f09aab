// An MtaSession for tests: records every request in order, answers macros
// from a map, and fails on demand as libmilter can (LibmilterSession in
// milter/libmilter_glue.cc copies every string, so any call may throw
// std::bad_alloc; smfi_chgheader may refuse).
#pragma once

#include <functional>
#include <map>
#include <new>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "mta_session.h"

namespace mtls::testing {

struct RecordedCall {
    std::string what;
    int index = 0;
    std::string name;
    std::string value;
    bool operator==(const RecordedCall&) const = default;
};

class FakeMta final : public milter::MtaSession {
public:
    std::map<std::string, std::string, std::less<>> macros;
    std::vector<RecordedCall> calls;
    // Failures to inject. A call that throws is not recorded.
    std::set<std::string, std::less<>> throwing_macros;  // reading these throws
    int throwing_inserts = 0;                            // so many next inserts throw
    int throwing_deletes = 0;                            // so many next deletes throw
    int refused_deletes = 0;                             // so many next deletes return false

    std::optional<std::string> macro(std::string_view name) override {
        if (throwing_macros.contains(name)) {
            throw std::bad_alloc();
        }
        if (auto it = macros.find(name); it != macros.end()) {
            return it->second;
        }
        return std::nullopt;
    }
    bool insert_header(int index, std::string_view name, std::string_view value) override {
        fail_if(throwing_inserts);
        calls.push_back({"insert", index, std::string(name), std::string(value)});
        return true;
    }
    bool delete_header(std::string_view name, int index) override {
        fail_if(throwing_deletes);
        if (refused_deletes > 0) {
            --refused_deletes;
            return false;
        }
        calls.push_back({"delete", index, std::string(name), ""});
        return true;
    }
    // The recorded calls of one kind ("insert", "delete" ...), in order.
    [[nodiscard]] std::vector<RecordedCall> calls_of(std::string_view what) const {
        std::vector<RecordedCall> out;
        for (const auto& call : calls) {
            if (call.what == what) {
                out.push_back(call);
            }
        }
        return out;
    }

    bool quarantine(std::string_view reason) override {
        calls.push_back({"quarantine", 0, "", std::string(reason)});
        return true;
    }
    bool set_reply(std::string_view code, std::string_view enhanced, std::string_view text) override {
        calls.push_back({"reply", 0, std::string(code) + " " + std::string(enhanced), std::string(text)});
        return true;
    }

private:
    static void fail_if(int& remaining) {
        if (remaining > 0) {
            --remaining;
            throw std::bad_alloc();
        }
    }
};

}  // namespace mtls::testing
