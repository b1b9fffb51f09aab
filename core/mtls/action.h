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

// What a milter callback answers when it failed inside (an exception): the
// message cannot be judged. tempfail defers it (the client retries, nothing
// is lost); accept lets it go on with forged Authentication-Results headers
// still removed. The milter's side is milter/connection.cc (recover).
enum class InternalErrorAction { tempfail, accept };

std::string_view to_string(InternalErrorAction action);
Expected<InternalErrorAction> parse_on_internal_error(std::string_view text);  // tempfail|accept

struct ActionSettings {
    Action on_fail = Action::tag;
    Action on_temperror = Action::tag;
    InternalErrorAction on_internal_error = InternalErrorAction::tempfail;
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
