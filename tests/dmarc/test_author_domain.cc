#include <catch2/catch.hpp>

#include "dmarc/author_domain.h"

using namespace mtls::dmarc;

namespace {

std::string author_of(std::string_view body) {
    const std::string_view bodies[] = {body};
    auto domain = author_domain(bodies);
    return domain ? *domain : "error: " + domain.error();
}

}  // namespace

TEST_CASE("author domain: the usual forms") {
    CHECK(author_of("user@Example.COM") == "example.com");
    CHECK(author_of(" John Doe <jdoe@machine.example>") == "machine.example");
    CHECK(author_of("\"Joe Q. Public\" <john.q.public@example.com>") == "example.com");
    CHECK(author_of("Mary Smith <mary@x.test>, jdoe@x.test, Who? <one@x.test>") == "x.test");
    CHECK(author_of("Mary Smith <mary@x.test>, [x] <one@x.test>").starts_with("error: "));
    CHECK(author_of("\"a@b\" <u@example.test>") == "example.test");
    CHECK(author_of("Pete(A nice \\) chap) <pete(his account)@silly.test(his host)>") == "silly.test");
    CHECK(author_of("Joe Q. Public <john.q.public@example.com>") == "example.com");  // obs-phrase
    CHECK(author_of("user@example.com\r\n (folded comment)") == "example.com");
}

TEST_CASE("author domain: groups and obsolete routes") {
    CHECK(author_of("A Group:Ed Jones <c@a.test>,joe@where.test;") == "error: mailboxes in several domains in From");
    CHECK(author_of("A Group:Ed Jones <c@a.test>,joe@a.test;") == "a.test");
    CHECK(author_of("Undisclosed recipients:;") == "error: no mailbox in From");
    CHECK(author_of("<@relay.test,@other.test:user@example.test>") == "example.test");
    CHECK(author_of("  ,, user@example.test ,") == "example.test");
    CHECK(author_of("user @ example . test") == "example.test");  // obs-domain with CFWS
}

TEST_CASE("author domain: U-labels become A-labels") {
    CHECK(author_of("Jürgen <j@bücher.example>") == "xn--bcher-kva.example");
}

TEST_CASE("author domain: permerror cases") {
    CHECK(author_domain({}).error() == "no From field");
    const std::string_view two[] = {"a@example.com", "b@example.com"};
    CHECK(author_domain(two).error() == "several From fields");
    CHECK(author_of("a@example.com, b@example.net") == "error: mailboxes in several domains in From");
    CHECK(author_of("user@example.net>").starts_with("error: "));
    CHECK(author_of("user@[192.0.2.1]") == "error: address literal in From");
    CHECK(author_of("user").starts_with("error: "));
    CHECK(author_of("").starts_with("error: no mailbox"));
    CHECK(author_of("<user@example.com").starts_with("error: "));
    CHECK(author_of("\"unterminated <u@example.com>").starts_with("error: "));
    CHECK(author_of("(unterminated u@example.com").starts_with("error: "));
    CHECK(author_of("user@example..com").starts_with("error: "));
    CHECK(author_of("user@example.com.").starts_with("error: "));
    CHECK(author_of("user@-bad-.com").starts_with("error: "));
    CHECK(author_of("<>").starts_with("error: "));
    CHECK(author_of(std::string_view("u@example.com\0x", 15)).starts_with("error: "));
    CHECK(author_of("Group: u@example.com").starts_with("error: "));
}
