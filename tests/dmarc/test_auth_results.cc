// The raw SPF and DKIM results the DMARC stage reads for RFC 9990's
// auth_results (core/dmarc/auth_results.h): what is kept of the sender's
// d= and s=, how many, in which order, and the log spelling both ways.
#include <catch2/catch.hpp>

#include "dmarc/auth_results.h"
#include "dmarc/authenticated_identifiers.h"

using namespace mtls::dmarc;

namespace {
const std::vector<std::string> kTrusted = {"mx.example.org"};

DkimAuthResult dkim(std::string domain, std::string selector, std::string result) {
    return {std::move(domain), std::move(selector), std::move(result)};
}
}  // namespace

TEST_CASE("auth results: every DKIM result with its selector, and SPF's for the envelope domain") {
    const std::string_view headers[] = {
        // OpenDKIM 2.11's form, as Debian 12 writes it.
        "mx.example.org; dkim=pass (2048-bit key; unprotected) header.d=Example.com header.i=@example.com "
        "header.a=rsa-sha256 header.s=Sel2024 header.b=q/4+Zx/w; dkim=fail header.d=esp.example header.s=s1; "
        "dkim=neutral header.i=user@sign.example.net",
        "mx.example.org; spf=softfail smtp.mailfrom=bounce@example.com; spf=pass smtp.mailfrom=other.test",
        "mx.example.org; spf=pass smtp.mailfrom=bounce@example.com",
    };
    const auto ids = authenticated_identifiers(headers, kTrusted, "example.com");
    CHECK(ids.dkim_results == std::vector<DkimAuthResult>{dkim("example.com", "sel2024", "pass"),
                                                          dkim("esp.example", "s1", "fail"),
                                                          dkim("sign.example.net", "", "neutral")});
    CHECK(ids.spf_result == "softfail");  // the first for this MAIL FROM; other.test is not this message's
    CHECK(ids.spf_pass_domains == std::vector<std::string>{"example.com"});
}

TEST_CASE("auth results: the sender's hostile d= and s= never get through") {
    const std::string_view headers[] = {
        "mx.example.org; dkim=pass header.d=\"exa mple.com\" header.s=a",
        "mx.example.org; dkim=pass header.d=example.com header.s=\"x:y,z\"",
        "mx.example.org; dkim=hardfail header.d=example.com header.s=s",
        "mx.example.org; spf=bogus smtp.mailfrom=example.com",
        "evil.example; dkim=pass header.d=evil.example header.s=s",
    };
    const auto ids = authenticated_identifiers(headers, kTrusted, "example.com");
    // The invalid selector is left out, the result kept; unknown words and
    // untrusted ids count for nothing.
    CHECK(ids.dkim_results == std::vector<DkimAuthResult>{dkim("example.com", "", "pass")});
    CHECK(ids.spf_result.empty());
    CHECK(canonical_selector("20230601").value() == "20230601");  // Gmail's all-digit selectors
    CHECK(canonical_selector("s1._Brand").value() == "s1._brand");
    CHECK_FALSE(canonical_selector("a..b"));
    CHECK_FALSE(canonical_selector("a b"));
    CHECK_FALSE(canonical_selector(std::string(64, 'a')));
    CHECK_FALSE(canonical_selector(""));
}

TEST_CASE("auth results: the null sender has no SPF result for MAIL FROM") {
    const std::string_view headers[] = {"mx.example.org; spf=pass smtp.mailfrom=postmaster@helo.example"};
    CHECK(authenticated_identifiers(headers, kTrusted, "").spf_result.empty());
}

TEST_CASE("auth results: reading stops at 100, but a pass still displaces a failure") {
    std::vector<DkimAuthResult> results;
    for (int i = 0; i < 150; ++i) {
        add_dkim_result(results, dkim("junk.example", "s" + std::to_string(i), "fail"));
    }
    add_dkim_result(results, dkim("junk.example", "s0", "fail"));  // a repeat
    CHECK(results.size() == kMaxDkimResultsRead);
    add_dkim_result(results, dkim("example.com", "sel", "pass"));
    CHECK(results.size() == kMaxDkimResultsRead);
    CHECK(results.back() == dkim("example.com", "sel", "pass"));
}

TEST_CASE("auth results: RFC 9990's order of preference, at most 8 logged") {
    std::vector<DkimAuthResult> results;
    for (int i = 0; i < 10; ++i) {
        results.push_back(dkim("junk.example", "s" + std::to_string(i), "fail"));
    }
    results.push_back(dkim("esp.example", "e", "pass"));
    results.push_back(dkim("mail.example.com", "r", "pass"));
    results.push_back(dkim("news.example.com", "strict", "pass"));
    const auto kept = reported_dkim_results(results, "news.example.com", "example.com");
    REQUIRE(kept.size() == kMaxDkimResultsLogged);
    CHECK(kept[0] == dkim("news.example.com", "strict", "pass"));  // the author domain itself
    CHECK(kept[1] == dkim("mail.example.com", "r", "pass"));       // its organizational domain
    CHECK(kept[2] == dkim("esp.example", "e", "pass"));
    CHECK(kept[3] == dkim("junk.example", "s0", "fail"));  // then in the order read
}

TEST_CASE("auth results: the log spelling, whole entries within 512 characters, read back strictly") {
    const std::vector<DkimAuthResult> results = {dkim("example.com", "sel", "pass"), dkim("esp.example", "", "fail")};
    CHECK(dkim_results_text(results) == "example.com:sel:pass,esp.example::fail");
    CHECK(dkim_results_text({}) == "-");
    CHECK(dkim_results_from_text("example.com:sel:pass,esp.example::fail").value() == results);
    CHECK(dkim_results_from_text("-").value().empty());
    // Long names: what does not fit is left out whole.
    const std::string long_domain = std::string(60, 'a') + "." + std::string(60, 'b') + "." + std::string(60, 'c') +
                                    "." + std::string(60, 'd') + ".example";
    const std::vector<DkimAuthResult> long_ones(3, dkim(long_domain, std::string(63, 's'), "pass"));
    const auto text = dkim_results_text(long_ones);
    CHECK(text.size() <= kMaxAuthResultsText);
    CHECK(dkim_results_from_text(text).value().size() == 1);
    for (const auto* bad : {"example.com:sel", "Example.com:sel:pass", "example.com:sel:hardfail",
                            "example.com:s el:pass", "<x>:s:pass", "example.com:sel:pass,", ""}) {
        INFO(bad);
        CHECK_FALSE(dkim_results_from_text(bad));
    }
}
