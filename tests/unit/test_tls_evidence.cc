// Reading the TLS evidence from Postfix's and Sendmail's milter macros.
#include <catch2/catch.hpp>

#include <map>
#include <string>
#include <vector>

#include "tls/tls_evidence.h"

using namespace mtls;

namespace {

using Macros = std::map<std::string, std::string, std::less<>>;

TlsEvidence from(const Macros& macros) {
    return evidence_from_macros([&](std::string_view name) -> std::optional<std::string> {
        const auto it = macros.find(name);
        if (it == macros.end()) {
            return std::nullopt;
        }
        return it->second;
    });
}

const Macros kPostfixTls = {
    {"{tls_version}", "TLSv1.3"}, {"{cipher}", "TLS_AES_256_GCM_SHA384"}, {"{cipher_bits}", "256"}};

Macros with(Macros base, const std::string& name, const std::string& value) {
    base[name] = value;
    return base;
}

}  // namespace

TEST_CASE("to_string of evidence sources and statuses", "[tls_evidence]") {
    CHECK(to_string(CertificateStatus::no_tls) == "no-tls");
    CHECK(to_string(CertificateStatus::no_certificate) == "no-certificate");
    CHECK(to_string(CertificateStatus::unverified) == "unverified");
    CHECK(to_string(CertificateStatus::absent_or_unverified) == "absent-or-unverified");
    CHECK(to_string(CertificateStatus::verified) == "verified");
    CHECK(to_string(EvidenceSource::postfix_macros) != to_string(EvidenceSource::sendmail_macros));
}

TEST_CASE("Postfix: no TLS macros means no TLS", "[tls_evidence]") {
    const auto evidence = from({});
    CHECK(evidence.source == EvidenceSource::postfix_macros);
    CHECK(evidence.status == CertificateStatus::no_tls);
    CHECK(evidence.names.empty());

    // A subject without TLS is not evidence of anything.
    const auto odd = from({{"{cert_subject}", "out1.example.org"}});
    CHECK(odd.status == CertificateStatus::no_tls);
    CHECK(odd.names.empty());

    const auto empty_version = from({{"{tls_version}", ""}});
    CHECK(empty_version.status == CertificateStatus::no_tls);
}

TEST_CASE("Postfix: TLS without {cert_subject} is absent or unverified", "[tls_evidence]") {
    const auto evidence = from(kPostfixTls);
    CHECK(evidence.source == EvidenceSource::postfix_macros);
    CHECK(evidence.status == CertificateStatus::absent_or_unverified);
    CHECK(evidence.names.empty());
    CHECK(evidence.tls_version == "TLSv1.3");

    // An issuer alone (Postfix sends it for unverified chains too) proves nothing.
    const auto issuer_only = from(with(kPostfixTls, "{cert_issuer}", "Example CA"));
    CHECK(issuer_only.status == CertificateStatus::absent_or_unverified);
}

TEST_CASE("Postfix: {cert_subject} defined means verified", "[tls_evidence]") {
    SECTION("empty subject: verified, but no names") {
        const auto evidence = from(with(kPostfixTls, "{cert_subject}", ""));
        CHECK(evidence.status == CertificateStatus::verified);
        CHECK(evidence.names.empty());
        CHECK(evidence.unusable_names.empty());
    }
    SECTION("a host name is canonicalised") {
        const auto evidence = from(with(kPostfixTls, "{cert_subject}", "Out1.Example.ORG"));
        CHECK(evidence.status == CertificateStatus::verified);
        CHECK(evidence.names == std::vector<std::string>{"out1.example.org"});
        CHECK(evidence.unusable_names.empty());
    }
    SECTION("a personal name is not a usable DNS identifier") {
        const auto evidence = from(with(kPostfixTls, "{cert_subject}", "John Doe"));
        CHECK(evidence.status == CertificateStatus::verified);
        CHECK(evidence.names.empty());
        CHECK(evidence.unusable_names == std::vector<std::string>{"John Doe"});
    }
    SECTION("a wildcard CN is kept as a wildcard") {
        const auto evidence = from(with(kPostfixTls, "{cert_subject}", "*.Example.org"));
        CHECK(evidence.names == std::vector<std::string>{"*.example.org"});
    }
    SECTION("{cipher} alone also shows TLS") {
        const auto evidence =
            from({{"{cipher}", "ECDHE-RSA-AES256-GCM-SHA384"}, {"{cert_subject}", "out1.example.org"}});
        CHECK(evidence.status == CertificateStatus::verified);
        CHECK(evidence.names == std::vector<std::string>{"out1.example.org"});
    }
}

TEST_CASE("Postfix: hostile subjects never become names", "[tls_evidence]") {
    const std::vector<std::string> subjects = {"out1.example.org\r\nX-Evil: 1",
                                               std::string("out1.example.org\0.evil", 22),
                                               "out1.example.org/CN=evil",
                                               "192.0.2.1",
                                               "f*o.example.org",
                                               "\xff\xfe"};
    for (const auto& subject : subjects) {
        const auto evidence = from(with(kPostfixTls, "{cert_subject}", subject));
        CHECK(evidence.status == CertificateStatus::verified);
        CHECK(evidence.names.empty());
        CHECK(evidence.unusable_names.size() == 1);
    }
}

TEST_CASE("Sendmail: {verify} OK with {cn_subject}", "[tls_evidence]") {
    Macros macros = {{"{tls_version}", "TLSv1.3"}, {"{verify}", "OK"}, {"{cn_subject}", "out1.example.org"}};
    const auto evidence = from(macros);
    CHECK(evidence.source == EvidenceSource::sendmail_macros);
    CHECK(evidence.status == CertificateStatus::verified);
    CHECK(evidence.names == std::vector<std::string>{"out1.example.org"});
    CHECK(evidence.verify_detail == "OK");
}

TEST_CASE("Sendmail: {cn_subject} is xtext-decoded", "[tls_evidence]") {
    const auto evidence =
        from({{"{tls_version}", "TLSv1.2"}, {"{verify}", "OK"}, {"{cn_subject}", "out1+2Eexample.org"}});
    CHECK(evidence.status == CertificateStatus::verified);
    CHECK(evidence.names == std::vector<std::string>{"out1.example.org"});

    // A decoded NUL or line break must not slip through as a name.
    for (const auto* cn : {"out1.example.org+00.evil", "out1.example.org+0D+0AX: y", "bad+2"}) {
        const auto hostile = from({{"{tls_version}", "TLSv1.2"}, {"{verify}", "OK"}, {"{cn_subject}", cn}});
        CHECK(hostile.status == CertificateStatus::verified);
        CHECK(hostile.names.empty());
        CHECK(hostile.unusable_names.size() == 1);
    }
}

TEST_CASE("Sendmail: names are taken only from a verified chain", "[tls_evidence]") {
    const auto with_verify = [](const char* verify) {
        return from({{"{tls_version}", "TLSv1.3"}, {"{verify}", verify}, {"{cn_subject}", "out1.example.org"}});
    };
    SECTION("FAIL") {
        const auto evidence = with_verify("FAIL");
        CHECK(evidence.source == EvidenceSource::sendmail_macros);
        CHECK(evidence.status == CertificateStatus::unverified);
        CHECK(evidence.names.empty());
        CHECK(evidence.verify_detail == "FAIL");
    }
    SECTION("NO: no certificate") {
        const auto evidence = with_verify("NO");
        CHECK(evidence.status == CertificateStatus::no_certificate);
        CHECK(evidence.names.empty());
    }
    SECTION("NONE: no STARTTLS") {
        const auto evidence = with_verify("NONE");
        CHECK(evidence.status == CertificateStatus::no_tls);
        CHECK(evidence.names.empty());
    }
    SECTION("unknown or odd values are not verified") {
        for (const auto* verify : {"TEMP", "PROTOCOL", "SOFTWARE", "", "ok", "OK ", "OKAY"}) {
            const auto evidence = with_verify(verify);
            INFO("{verify} = '" << verify << "'");
            CHECK(evidence.status != CertificateStatus::verified);
            CHECK(evidence.names.empty());
        }
    }
    SECTION("OK without encryption is not verified") {
        const auto evidence = from({{"{verify}", "OK"}, {"{cn_subject}", "out1.example.org"}});
        CHECK(evidence.source == EvidenceSource::sendmail_macros);
        CHECK(evidence.status == CertificateStatus::no_tls);
        CHECK(evidence.names.empty());
    }
}

TEST_CASE("Sendmail is recognised by {verify} even when Postfix macros are present", "[tls_evidence]") {
    const auto evidence =
        from({{"{tls_version}", "TLSv1.3"}, {"{verify}", "FAIL"}, {"{cert_subject}", "out1.example.org"}});
    CHECK(evidence.source == EvidenceSource::sendmail_macros);
    CHECK(evidence.status == CertificateStatus::unverified);
    CHECK(evidence.names.empty());
}

TEST_CASE("Sendmail: {cn_subject} placeholders are not names", "[tls_evidence]") {
    // What Sendmail 8.17 sends for a certificate without a CN, with one too
    // long, or with a NUL in it (seen with Debian's 8.17.1.9: test_sendmail.py).
    for (const std::string placeholder :
         {"BadCertificateUnknown", "BadCertificateTooLong", "BadCertificateContainsNUL"}) {
        INFO("{cn_subject} = " << placeholder);
        const auto evidence =
            from({{"{tls_version}", "TLSv1.3"}, {"{verify}", "OK"}, {"{cn_subject}", placeholder}, {"v", "8.17.1.9"}});
        CHECK(evidence.source == EvidenceSource::sendmail_macros);
        CHECK(evidence.status == CertificateStatus::verified);
        CHECK(evidence.names.empty());
        REQUIRE(evidence.unusable_names.size() == 1);
        CHECK(evidence.unusable_names[0].starts_with(placeholder + " (Sendmail's placeholder: "));
    }
    SECTION("only the exact placeholders: a CN that merely contains one is a name as before") {
        const auto evidence = from(
            {{"{tls_version}", "TLSv1.3"}, {"{verify}", "OK"}, {"{cn_subject}", "badcertificateunknown.example.org"}});
        CHECK(evidence.names == std::vector<std::string>{"badcertificateunknown.example.org"});
    }
}

TEST_CASE("Sendmail without STARTTLS is recognised by its version macro", "[tls_evidence]") {
    SECTION("no {verify}, v = 8.17.1.9: Sendmail, no TLS") {
        const auto evidence = from({{"v", "8.17.1.9"}});
        CHECK(evidence.source == EvidenceSource::sendmail_macros);
        CHECK(evidence.status == CertificateStatus::no_tls);
        CHECK(evidence.verify_detail.empty());
    }
    SECTION("Postfix's v names Postfix: still Postfix") {
        const auto plain = from({{"v", "Postfix 3.7.11"}});
        CHECK(plain.source == EvidenceSource::postfix_macros);
        CHECK(plain.status == CertificateStatus::no_tls);

        const auto verified =
            from(with(with(kPostfixTls, "v", "Postfix 3.7.11"), "{cert_subject}", "out1.example.org"));
        CHECK(verified.source == EvidenceSource::postfix_macros);
        CHECK(verified.status == CertificateStatus::verified);
        CHECK(verified.names == std::vector<std::string>{"out1.example.org"});
    }
    SECTION("an empty or odd v is not Sendmail") {
        for (const auto* version : {"", " 8.17", "x8.17", "\xff"}) {
            INFO("v = '" << version << "'");
            CHECK(from({{"v", version}}).source == EvidenceSource::postfix_macros);
        }
    }
    SECTION("Sendmail with TLS but no {verify} (not sent): never verified") {
        // Sendmail sets {cert_subject} and {cn_subject} for unverified
        // certificates too, so without {verify} they prove nothing.
        const auto evidence = from({{"v", "8.17.1.9"},
                                    {"{tls_version}", "TLSv1.3"},
                                    {"{cert_subject}", "/CN=out1.example.org"},
                                    {"{cn_subject}", "out1.example.org"}});
        CHECK(evidence.source == EvidenceSource::sendmail_macros);
        CHECK(evidence.status == CertificateStatus::unverified);
        CHECK(evidence.names.empty());
    }
}

TEST_CASE("oversized macro values are handled", "[tls_evidence]") {
    const std::string huge(100 * 1024, 'a');
    const std::string huge_name = huge + ".example.org";

    const auto postfix = from(with(kPostfixTls, "{cert_subject}", huge_name));
    CHECK(postfix.status == CertificateStatus::verified);
    CHECK(postfix.names.empty());

    const auto sendmail = from({{"{tls_version}", huge}, {"{verify}", "OK" + huge}, {"{cn_subject}", huge_name}});
    CHECK(sendmail.status != CertificateStatus::verified);
    CHECK(sendmail.names.empty());

    std::string encoded;
    for (int i = 0; i < 30000; ++i) {
        encoded += "+61";
    }
    const auto xtext = from({{"{tls_version}", "TLSv1.3"}, {"{verify}", "OK"}, {"{cn_subject}", encoded + ".org"}});
    CHECK(xtext.status == CertificateStatus::verified);
    CHECK(xtext.names.empty());
}

TEST_CASE("add_presented_name sorts and deduplicates", "[tls_evidence]") {
    TlsEvidence evidence;
    add_presented_name(evidence, "Out1.Example.org");
    add_presented_name(evidence, "out1.example.org.");
    add_presented_name(evidence, "*.example.net");
    add_presented_name(evidence, "John Doe");
    add_presented_name(evidence, "");
    CHECK(evidence.names == std::vector<std::string>{"out1.example.org", "*.example.net"});
    CHECK(evidence.unusable_names == std::vector<std::string>{"John Doe"});
}
