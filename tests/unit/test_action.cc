// Local policy: result -> action, and the SMTP reply for rejecting actions.
#include <catch2/catch.hpp>

#include "mtls/action.h"

using namespace mtls;

TEST_CASE("decide_action", "[policy]") {
    const ActionSettings defaults;
    for (const auto result : {Result::pass, Result::fail, Result::none, Result::temperror, Result::permerror}) {
        CHECK(decide_action(result, defaults) == Action::tag);
    }

    for (const auto on_fail : {Action::tag, Action::reject, Action::tempfail, Action::quarantine}) {
        for (const auto on_temperror : {Action::tag, Action::tempfail}) {
            const ActionSettings policy{on_fail, on_temperror};
            CHECK(decide_action(Result::fail, policy) == on_fail);
            CHECK(decide_action(Result::temperror, policy) == on_temperror);
            // Only fail and temperror are ever acted on.
            CHECK(decide_action(Result::pass, policy) == Action::tag);
            CHECK(decide_action(Result::none, policy) == Action::tag);
            CHECK(decide_action(Result::permerror, policy) == Action::tag);
        }
    }
}

TEST_CASE("parse_on_fail", "[policy]") {
    CHECK(parse_on_fail("tag").value() == Action::tag);
    CHECK(parse_on_fail("reject").value() == Action::reject);
    CHECK(parse_on_fail("tempfail").value() == Action::tempfail);
    CHECK(parse_on_fail("quarantine").value() == Action::quarantine);
    for (const auto* bad : {"", "bounce", "discard", "accept", "reject ", " tag", "tag\n", "rejec"}) {
        INFO("on-fail '" << bad << "'");
        const auto parsed = parse_on_fail(bad);
        CHECK_FALSE(parsed);
        if (!parsed) {
            CHECK_FALSE(parsed.error().empty());
        }
    }
}

TEST_CASE("parse_on_temperror", "[policy]") {
    CHECK(parse_on_temperror("tag").value() == Action::tag);
    CHECK(parse_on_temperror("tempfail").value() == Action::tempfail);
    for (const auto* bad : {"reject", "quarantine", "", "bounce", "tempfail "}) {
        INFO("on-temperror '" << bad << "'");
        CHECK_FALSE(parse_on_temperror(bad));
    }
}

TEST_CASE("to_string of actions round-trips through the parser", "[policy]") {
    for (const auto action : {Action::tag, Action::reject, Action::tempfail, Action::quarantine}) {
        CHECK(parse_on_fail(to_string(action)).value() == action);
    }
}

TEST_CASE("reply_for", "[policy]") {
    const auto reject = reply_for(Action::reject, Result::fail);
    CHECK(reject.code == "550");
    CHECK(reject.enhanced == "5.7.1");
    CHECK(reject.text.find("mtls=fail") != std::string_view::npos);

    const auto tempfail = reply_for(Action::tempfail, Result::fail);
    CHECK(tempfail.code == "451");
    CHECK(tempfail.enhanced == "4.7.1");

    const auto temperror = reply_for(Action::tempfail, Result::temperror);
    CHECK(temperror.code == "451");
    CHECK(temperror.enhanced == "4.4.3");
    CHECK(temperror.text.find("mtls=temperror") != std::string_view::npos);

    // The class of the enhanced code agrees with the reply code, and the text
    // is one line of printable ASCII (it goes into an SMTP reply).
    for (const auto& reply : {reject, tempfail, temperror}) {
        CHECK(reply.code.front() == reply.enhanced.front());
        CHECK_FALSE(reply.text.empty());
        for (const char c : reply.text) {
            CHECK((c >= 0x20 && c < 0x7f));
        }
    }
}
