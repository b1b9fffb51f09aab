#include <catch2/catch.hpp>

#include "dmarc/record.h"

using namespace mtls::dmarc;

TEST_CASE("record: the RFC 9989 examples parse") {
    const auto record = parse_record("v=DMARC1; p=none; rua=mailto:dmarc-feedback@example.com");
    REQUIRE(record);
    CHECK(record->p == Policy::none);
    CHECK(record->rua == std::vector<std::string>{"mailto:dmarc-feedback@example.com"});
    CHECK(record->fallback.empty());

    const auto full = parse_record(
        "v=DMARC1; p=quarantine; sp=reject; np=reject; psd=n; t=y; adkim=s; aspf=s; "
        "rua=mailto:a@example.com!10m, mailto:b@example.net; ruf=mailto:f@example.com; fo=d:s");
    REQUIRE(full);
    CHECK(full->p == Policy::quarantine);
    CHECK(full->sp == Policy::reject);
    CHECK(full->np == Policy::reject);
    CHECK(full->psd == PsdFlag::no);
    CHECK(full->testing);
    CHECK(full->adkim == AlignmentMode::strict);
    CHECK(full->aspf == AlignmentMode::strict);
    CHECK(full->rua == std::vector<std::string>{"mailto:a@example.com", "mailto:b@example.net"});
    CHECK(full->ruf == std::vector<std::string>{"mailto:f@example.com"});
    CHECK(full->fo == "d:s");
}

TEST_CASE("record: v=DMARC1 must be the first tag and is case-sensitive") {
    CHECK_FALSE(parse_record("p=reject; v=DMARC1"));
    CHECK_FALSE(parse_record("v=dmarc1; p=reject"));
    CHECK_FALSE(parse_record("v=DMARC2; p=reject"));
    CHECK_FALSE(parse_record("v=DMARC1x; p=reject"));
    CHECK(parse_record(" v = DMARC1 ;p=reject"));
    CHECK(starts_with_version_tag("v=DMARC1"));
    CHECK_FALSE(starts_with_version_tag("v=spf1 -all"));
    CHECK_FALSE(starts_with_version_tag(""));
}

TEST_CASE("record: defaults, unknown and historic tags") {
    const auto record = parse_record("v=DMARC1; p=reject; pct=0; rf=iodef; ri=3600; foo=bar; junk");
    REQUIRE(record);
    CHECK(record->p == Policy::reject);
    CHECK_FALSE(record->sp);
    CHECK_FALSE(record->np);
    CHECK(record->psd == PsdFlag::unknown);
    CHECK_FALSE(record->testing);
    CHECK(record->adkim == AlignmentMode::relaxed);  // rf=iodef does not touch aspf/adkim
    CHECK(record->aspf == AlignmentMode::relaxed);
    CHECK(record->fo == "0");
}

TEST_CASE("record: syntax errors in optional tags fall back to the defaults") {
    const auto record = parse_record("v=DMARC1; p=Reject; adkim=x; aspf=; t=maybe; psd=q; fo=7; rua=nonsense");
    REQUIRE(record);
    CHECK(record->p == Policy::reject);
    CHECK(record->adkim == AlignmentMode::relaxed);
    CHECK(record->aspf == AlignmentMode::relaxed);
    CHECK_FALSE(record->testing);
    CHECK(record->psd == PsdFlag::unknown);
    CHECK(record->fo == "0");
    CHECK(record->rua.empty());
}

TEST_CASE("record: no or invalid p with a valid rua is p=none, without one a record with no policy") {
    const auto no_p = parse_record("v=DMARC1; rua=mailto:r@example.com");
    REQUIRE(no_p);
    CHECK(no_p->p == Policy::none);
    CHECK(no_p->fallback == "no p");
    CHECK(no_p->no_policy.empty());

    const auto bad_p = parse_record("v=DMARC1; p=rej; sp=reject; rua=mailto:r@example.com");
    REQUIRE(bad_p);
    CHECK(bad_p->p == Policy::none);
    CHECK_FALSE(bad_p->sp);

    // Section 4.10.1: no DMARC processing where such a record applies; but
    // it is a record all the same (section 4.10 step 2), not "no record".
    for (const auto* text : {"v=DMARC1", "v=DMARC1; p=rej", "v=DMARC1; rua=mailto:no-at-sign"}) {
        INFO(text);
        const auto record = parse_record(text);
        REQUIRE(record);
        CHECK_FALSE(record->no_policy.empty());
        CHECK(record->fallback.empty());
        CHECK(record->p == Policy::none);
    }
    CHECK(parse_record("v=DMARC1")->no_policy == "no p and no valid rua");
    CHECK(parse_record("v=DMARC1; p=rej")->no_policy == "invalid p and no valid rua");
}

TEST_CASE("record: an invalid sp or np falls back like an invalid p") {
    const auto bad_sp = parse_record("v=DMARC1; p=reject; sp=bogus; rua=mailto:r@example.com");
    REQUIRE(bad_sp);
    CHECK(bad_sp->p == Policy::none);
    CHECK_FALSE(bad_sp->sp);
    CHECK(bad_sp->fallback == "invalid sp");

    const auto bad_np = parse_record("v=DMARC1; p=reject; np=; rua=mailto:r@example.com");
    REQUIRE(bad_np);
    CHECK(bad_np->p == Policy::none);
    CHECK_FALSE(bad_np->np);

    const auto bad_sp_no_rua = parse_record("v=DMARC1; p=reject; sp=bogus");
    REQUIRE(bad_sp_no_rua);
    CHECK(bad_sp_no_rua->no_policy == "invalid sp and no valid rua");
    CHECK(bad_sp_no_rua->p == Policy::none);
    CHECK_FALSE(bad_sp_no_rua->sp);
    CHECK(parse_record("v=DMARC1; p=reject; np=bogus")->no_policy == "invalid np and no valid rua");
}

TEST_CASE("record: a record with no usable policy keeps its psd for the walk") {
    CHECK(parse_record("v=DMARC1; psd=n")->psd == PsdFlag::no);
    CHECK(parse_record("v=DMARC1; psd=y; p=bogus")->psd == PsdFlag::yes);
}

TEST_CASE("record: the first of a repeated tag counts") {
    const auto record = parse_record("v=DMARC1; p=reject; p=none");
    REQUIRE(record);
    CHECK(record->p == Policy::reject);
}

TEST_CASE("record: TXT character-strings are concatenated") {
    const std::vector<std::uint8_t> rdata = {8,   'v', '=', 'D', 'M', 'A', 'R', 'C', '1', 3,
                                             ';', 'p', '=', 6,   'r', 'e', 'j', 'e', 'c', 't'};
    CHECK(txt_rdata_text(rdata) == "v=DMARC1;p=reject");
    const std::vector<std::uint8_t> truncated = {10, 'a', 'b'};
    CHECK(txt_rdata_text(truncated) == "ab");
    CHECK(txt_rdata_text({}).empty());
}
