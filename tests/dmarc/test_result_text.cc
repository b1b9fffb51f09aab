#include <catch2/catch.hpp>

#include "dmarc/result_text.h"
#include "walk_fixtures.h"

using namespace mtls;
using namespace mtls::dmarc;
using namespace mtls::dmarc::testing;

TEST_CASE("result text: the issue's example line") {
    EvaluationInput input;
    input.author_domain = std::string("example.com");
    input.identifiers.mtls = MtlsPass{"example.com", false};
    const auto evaluation = evaluate(input, walk({"example.com"}, {{"example.com", txt({"v=DMARC1; p=reject"})}}));
    CHECK(result_text(evaluation, Policy::none) ==
          "dmarc=pass (p=reject dis=none; aligned: mtls; DNSSEC secure) header.from=example.com policy.dmarc=reject");
}

TEST_CASE("result text: t=y, report-only, and the parts that appear only sometimes") {
    EvaluationInput input;
    input.author_domain = std::string("example.com");
    input.mode = MtlsMode::report_only;
    input.identifiers.mtls = MtlsPass{"example.com", false};
    const auto answers =
        walk({"example.com"}, {{"example.com", txt({"v=DMARC1; p=reject; t=y"}, DnssecState::insecure)}});
    const auto evaluation = evaluate(input, answers);
    CHECK(result_text(evaluation, Policy::quarantine) ==
          "dmarc=fail (p=reject dis=quarantine; aligned: mtls-report-only; DNSSEC insecure) header.from=example.com "
          "policy.dmarc=quarantine");

    const auto none = evaluate(input, walk({"example.com"}, {}));
    CHECK(result_text(none, Policy::none) == "dmarc=none (no DMARC record) header.from=example.com");

    EvaluationInput broken;
    broken.author_domain = Error{"unexpected (text) \\ in From\r\n"};
    CHECK(result_text(evaluate(broken, {}), Policy::none) == "dmarc=permerror (unexpected _text_ _ in From__)");

    const auto temperror = evaluate(input, walk({"example.com"}, {{"example.com", failed("bogus")}}));
    CHECK(result_text(temperror, Policy::none) ==
          "dmarc=temperror (bogus at _dmarc.example.com) header.from=example.com");
}

TEST_CASE("result text: words split where folding may go") {
    EvaluationInput input;
    input.author_domain = std::string("example.com");
    input.identifiers.spf_pass_domains = {"example.com"};
    input.identifiers.dkim_pass_domains = {"example.com"};
    const auto evaluation = evaluate(input, walk({"example.com"}, {{"example.com", txt({"v=DMARC1; p=quarantine"})}}));
    const auto words = result_words(evaluation, Policy::none);
    CHECK(words == std::vector<std::string>{"dmarc=pass", "(p=quarantine", "dis=none;", "aligned:", "spf", "dkim;",
                                            "DNSSEC", "secure)", "header.from=example.com", "policy.dmarc=quarantine"});
}
