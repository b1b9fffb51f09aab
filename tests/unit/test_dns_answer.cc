// Reducing a validating resolver's answer to a status and a DNSSEC state.
#include <catch2/catch.hpp>

#include <cstdint>
#include <vector>

#include "dns/dns_answer.h"

using namespace mtls;

namespace {

const std::vector<std::uint8_t> kRecord = {0, 10, 1, 'a', 7, 'e', 'x', 'a', 'm', 'p', 'l', 'e', 0};

RawAnswer with_data(bool secure) {
    RawAnswer raw;
    raw.havedata = true;
    raw.secure = secure;
    raw.rdata = {kRecord};
    raw.canonical_name = "example.";
    return raw;
}

}  // namespace

TEST_CASE("bogus wins, and its data is thrown away", "[dns_answer]") {
    auto raw = with_data(false);
    raw.bogus = true;
    raw.detail = "signature expired";
    const auto answer = classify_answer(raw);
    CHECK(answer.status == AnswerStatus::bogus);
    CHECK(answer.dnssec == DnssecState::bogus);
    CHECK(answer.rdata.empty());
    CHECK(answer.detail == "signature expired");

    // Even with the secure flag and an rcode set.
    raw.secure = true;
    const auto also_secure = classify_answer(raw);
    CHECK(also_secure.status == AnswerStatus::bogus);
    CHECK(also_secure.dnssec == DnssecState::bogus);
    CHECK(also_secure.rdata.empty());

    raw.rcode = 3;
    raw.nxdomain = true;
    CHECK(classify_answer(raw).status == AnswerStatus::bogus);
    raw.rcode = 2;
    CHECK(classify_answer(raw).status == AnswerStatus::bogus);
}

TEST_CASE("secure and insecure data", "[dns_answer]") {
    const auto secure = classify_answer(with_data(true));
    CHECK(secure.status == AnswerStatus::records);
    CHECK(secure.dnssec == DnssecState::secure);
    REQUIRE(secure.rdata.size() == 1);
    CHECK(secure.rdata[0] == kRecord);
    CHECK(secure.canonical_name == "example.");

    const auto insecure = classify_answer(with_data(false));
    CHECK(insecure.status == AnswerStatus::records);
    CHECK(insecure.dnssec == DnssecState::insecure);
    CHECK(insecure.rdata.size() == 1);
}

TEST_CASE("rcode 3 is nxdomain", "[dns_answer]") {
    RawAnswer raw;
    raw.rcode = 3;
    raw.secure = true;
    const auto answer = classify_answer(raw);
    CHECK(answer.status == AnswerStatus::nxdomain);
    CHECK(answer.dnssec == DnssecState::secure);
    CHECK(answer.rdata.empty());

    RawAnswer flagged;
    flagged.nxdomain = true;
    CHECK(classify_answer(flagged).status == AnswerStatus::nxdomain);
    CHECK(classify_answer(flagged).dnssec == DnssecState::insecure);
}

TEST_CASE("other rcodes are server failures", "[dns_answer]") {
    for (const int rcode : {1, 2, 4, 5, 9, 15}) {
        RawAnswer raw = with_data(true);
        raw.rcode = rcode;
        const auto answer = classify_answer(raw);
        INFO("rcode " << rcode);
        CHECK(answer.status == AnswerStatus::servfail);
        CHECK(answer.rdata.empty());
        CHECK(answer.dnssec != DnssecState::secure);
    }
}

TEST_CASE("rcode 0 without data is nodata", "[dns_answer]") {
    RawAnswer raw;
    raw.secure = true;
    const auto answer = classify_answer(raw);
    CHECK(answer.status == AnswerStatus::nodata);
    CHECK(answer.dnssec == DnssecState::secure);

    RawAnswer claims_data;  // havedata but nothing in it
    claims_data.havedata = true;
    CHECK(classify_answer(claims_data).status == AnswerStatus::nodata);
}

TEST_CASE("a resolver error is an error, whatever else is set", "[dns_answer]") {
    RawAnswer raw = with_data(true);
    raw.resolver_error = -2;
    raw.detail = "out of memory";
    const auto answer = classify_answer(raw);
    CHECK(answer.status == AnswerStatus::error);
    CHECK(answer.dnssec == DnssecState::unknown);
    CHECK(answer.rdata.empty());
    CHECK(answer.detail == "out of memory");
}

TEST_CASE("to_string of states and statuses", "[dns_answer]") {
    CHECK(to_string(DnssecState::secure) == "secure");
    CHECK(to_string(DnssecState::insecure) == "insecure");
    CHECK(to_string(DnssecState::bogus) == "bogus");
    CHECK(to_string(DnssecState::unknown) == "unknown");
    CHECK(to_string(AnswerStatus::records) == "records");
    CHECK(to_string(AnswerStatus::nodata) == "nodata");
    CHECK(to_string(AnswerStatus::nxdomain) == "nxdomain");
    CHECK(to_string(AnswerStatus::servfail) == "servfail");
    CHECK(to_string(AnswerStatus::bogus) == "bogus");
    CHECK(to_string(AnswerStatus::timeout) == "timeout");
    CHECK(to_string(AnswerStatus::error) == "error");
}
