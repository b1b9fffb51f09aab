// Local policy: what the MTA is told to do with a message, given its result.
// Tagging is the default, as the draft leaves action to local policy and a
// new mechanism should not lose mail before operators have seen its results.
#pragma once

#include <string_view>

#include "base/expected.h"
#include "mtls/verdict.h"

namespace mtls {

enum class Action { tag, reject, tempfail, quarantine };

std::string_view to_string(Action action);
Expected<Action> parse_on_fail(std::string_view text);       // tag|reject|tempfail|quarantine
Expected<Action> parse_on_temperror(std::string_view text);  // tag|tempfail

struct ActionSettings {
    Action on_fail = Action::tag;
    Action on_temperror = Action::tag;
};

Action decide_action(Result result, const ActionSettings& policy);

// The SMTP reply for a rejecting action (RFC 3463 enhanced status codes).
struct SmtpReply {
    std::string_view code;
    std::string_view enhanced;
    std::string_view text;
};
SmtpReply reply_for(Action action, Result result);

}  // namespace mtls
