// The seam between the milter logic and libmilter: every smfi_* call the
// logic makes goes through this interface, so that unit tests drive a
// Connection without an MTA and assert exactly which headers are deleted and
// inserted where (tests/milter/fake_mta.h).
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace mtls::milter {

class MtaSession {
public:
    virtual ~MtaSession() = default;
    // A macro's value, std::nullopt when the MTA did not define it.
    virtual std::optional<std::string> macro(std::string_view name) = 0;
    // Each returns false when the MTA refused the request.
    virtual bool insert_header(int index, std::string_view name, std::string_view value) = 0;
    virtual bool delete_header(std::string_view name, int index) = 0;
    virtual bool quarantine(std::string_view reason) = 0;
    virtual bool set_reply(std::string_view code, std::string_view enhanced, std::string_view text) = 0;
};

// What a callback tells the MTA; maps onto SMFIS_* in the libmilter glue.
enum class Status { proceed, accept, reject, tempfail, no_reply };

// The libmilter callback that is running, for the failure policy
// (Connection::recover) and the log.
enum class CallbackStage { connect, helo, mail, header, end_of_message, abort, close };

constexpr const char* name_of(CallbackStage stage) noexcept {
    switch (stage) {
        case CallbackStage::connect: return "connect";
        case CallbackStage::helo: return "helo";
        case CallbackStage::mail: return "envfrom";
        case CallbackStage::header: return "header";
        case CallbackStage::end_of_message: return "eom";
        case CallbackStage::abort: return "abort";
        case CallbackStage::close: return "close";
    }
    return "callback";
}

}  // namespace mtls::milter
