#include "mtls/action.h"

namespace mtls {

std::string_view to_string(Action action) {
    switch (action) {
        case Action::tag: return "tag";
        case Action::reject: return "reject";
        case Action::tempfail: return "tempfail";
        case Action::quarantine: return "quarantine";
    }
    return "tag";
}

Expected<Action> parse_on_fail(std::string_view text) {
    for (const Action action : {Action::tag, Action::reject, Action::tempfail, Action::quarantine}) {
        if (text == to_string(action)) {
            return action;
        }
    }
    return Error{"expected tag, reject, tempfail or quarantine"};
}

Expected<Action> parse_on_temperror(std::string_view text) {
    for (const Action action : {Action::tag, Action::tempfail}) {
        if (text == to_string(action)) {
            return action;
        }
    }
    return Error{"expected tag or tempfail"};
}

std::string_view to_string(InternalErrorAction action) {
    switch (action) {
        case InternalErrorAction::tempfail: return "tempfail";
        case InternalErrorAction::accept: return "accept";
    }
    return "tempfail";
}

Expected<InternalErrorAction> parse_on_internal_error(std::string_view text) {
    for (const InternalErrorAction action : {InternalErrorAction::tempfail, InternalErrorAction::accept}) {
        if (text == to_string(action)) {
            return action;
        }
    }
    return Error{"expected tempfail or accept"};
}

Action decide_action(Result result, const ActionSettings& policy) {
    switch (result) {
        case Result::fail: return policy.on_fail;
        case Result::temperror: return policy.on_temperror;
        case Result::pass:
        case Result::none:
        case Result::permerror: return Action::tag;
    }
    return Action::tag;
}

SmtpReply reply_for(Action action, Result result) {
    if (action == Action::reject) {
        return {"550", "5.7.1", "Sending server not authorized by the sender domain's Client MX (mtls=fail)"};
    }
    if (result == Result::temperror) {
        // 4.4.3: directory (DNS) server failure, as SPF verifiers use.
        return {"451", "4.4.3", "Temporary DNS failure checking the sender's Client MX (mtls=temperror)"};
    }
    return {"451", "4.7.1", "Sending server not authorized by the sender domain's Client MX (mtls=fail)"};
}

}  // namespace mtls
