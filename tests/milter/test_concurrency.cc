// Many connections at once on many threads sharing one real UnboundResolver,
// as libmilter's worker pool runs them; built for ThreadSanitizer
// (scripts/sanitize) but run in every build.
//
// DNS comes from a tiny authoritative server for "test." on a loopback UDP
// port, run by the test itself. Names tell it what to do:
//   *.fast.test   Client MX "10 out1.example.org." at once
//   *.slow.test   the same after a random delay around the lookup timeout,
//                 so that lookups time out and are cancelled while their
//                 answers arrive (the race UnboundResolver's cancel/complete
//                 protocol exists for)
//   *.none.test   no Client MX records (NODATA)
//   anything else NXDOMAIN
// Names starting "cached." carry a TTL, so libunbound answers repeats from
// its cache, possibly before ub_resolve_async has returned.
//
// Catch2's assertions are not thread-safe: worker threads only record what
// happened; the checks run on the main thread after they are joined.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <catch2/catch.hpp>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <thread>
#include <vector>

#include "connection.h"
#include "dns/unbound_resolver.h"

using namespace mtls;
using namespace mtls::milter;
using namespace std::chrono_literals;

namespace {

constexpr std::uint16_t kClientMxType = 265;
constexpr std::uint16_t kTypeSoa = 6;
constexpr std::uint16_t kTypeOpt = 41;

void put16(std::vector<std::uint8_t>& out, unsigned value) {
    out.push_back(static_cast<std::uint8_t>(value >> 8));
    out.push_back(static_cast<std::uint8_t>(value & 0xff));
}

void put32(std::vector<std::uint8_t>& out, std::uint32_t value) {
    put16(out, value >> 16);
    put16(out, value & 0xffff);
}

void put_name(std::vector<std::uint8_t>& out, std::string_view name) {
    while (!name.empty()) {
        const auto dot = name.find('.');
        const auto label = name.substr(0, dot);
        out.push_back(static_cast<std::uint8_t>(label.size()));
        out.insert(out.end(), label.begin(), label.end());
        name = dot == std::string_view::npos ? std::string_view() : name.substr(dot + 1);
    }
    out.push_back(0);
}

// The authoritative server for "test." (see the file comment). Answers over
// UDP on 127.0.0.1 until destroyed; delayed answers are sent from its queue.
class DnsResponder {
public:
    DnsResponder(std::chrono::milliseconds min_delay, std::chrono::milliseconds max_delay)
        : min_delay_(min_delay), max_delay_(max_delay) {
        fd_ = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
        REQUIRE(fd_ >= 0);
        sockaddr_in address{};
        address.sin_family = AF_INET;
        address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        REQUIRE(bind(fd_, reinterpret_cast<const sockaddr*>(&address), sizeof address) == 0);
        socklen_t length = sizeof address;
        REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&address), &length) == 0);
        port_ = ntohs(address.sin_port);
        thread_ = std::thread([this] { run(); });
    }
    ~DnsResponder() {
        stop_ = true;
        thread_.join();
        close(fd_);
    }
    DnsResponder(const DnsResponder&) = delete;
    DnsResponder& operator=(const DnsResponder&) = delete;

    [[nodiscard]] std::uint16_t port() const { return port_; }
    [[nodiscard]] std::size_t queries() const { return queries_; }
    [[nodiscard]] std::size_t delayed() const { return delayed_; }

private:
    struct Reply {
        std::chrono::steady_clock::time_point due;
        std::vector<std::uint8_t> bytes;
        sockaddr_in peer;
    };

    void run() {
        std::vector<Reply> queue;
        std::vector<std::uint8_t> buffer(4096);
        while (!stop_) {
            pollfd readable{fd_, POLLIN, 0};
            if (poll(&readable, 1, 2) > 0 && (readable.revents & POLLIN) != 0) {
                sockaddr_in peer{};
                socklen_t length = sizeof peer;
                const auto received = recvfrom(fd_, buffer.data(), buffer.size(), MSG_DONTWAIT,
                                               reinterpret_cast<sockaddr*>(&peer), &length);
                if (received > 0) {
                    answer(std::span(buffer.data(), static_cast<std::size_t>(received)), peer, queue);
                }
            }
            const auto now = std::chrono::steady_clock::now();
            for (auto it = queue.begin(); it != queue.end();) {
                if (it->due <= now) {
                    send(*it);
                    it = queue.erase(it);
                } else {
                    ++it;
                }
            }
        }
    }

    void send(const Reply& reply) const {
        [[maybe_unused]] const auto sent = sendto(fd_, reply.bytes.data(), reply.bytes.size(), 0,
                                                  reinterpret_cast<const sockaddr*>(&reply.peer), sizeof reply.peer);
    }

    void answer(std::span<const std::uint8_t> query, const sockaddr_in& peer, std::vector<Reply>& queue) {
        if (query.size() < 12 || query[4] != 0 || query[5] != 1) {
            return;  // not one question
        }
        std::string name;
        std::size_t pos = 12;
        while (pos < query.size() && query[pos] != 0) {
            const std::size_t length = query[pos];
            if ((length & 0xC0) != 0 || pos + 1 + length > query.size()) {
                return;
            }
            for (std::size_t i = 0; i < length; ++i) {
                const auto c = static_cast<char>(query[pos + 1 + i]);
                name.push_back(c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c);
            }
            name.push_back('.');
            pos += 1 + length;
        }
        const std::size_t question_end = pos + 5;
        if (question_end > query.size()) {
            return;
        }
        const unsigned type = (query[pos + 1] << 8) | query[pos + 2];
        const bool edns = query[10] != 0 || query[11] != 0;
        ++queries_;

        const bool fast = name.ends_with(".fast.test.");
        const bool slow = name.ends_with(".slow.test.");
        const bool has_records = (fast || slow) && type == kClientMxType;
        const bool nxdomain = !fast && !slow && !name.ends_with(".none.test.") && name != "test.";

        std::vector<std::uint8_t> out;
        out.push_back(query[0]);
        out.push_back(query[1]);
        out.push_back(static_cast<std::uint8_t>(0x84 | (query[2] & 0x01)));  // QR AA, RD copied
        out.push_back(nxdomain ? 3 : 0);
        put16(out, 1);                    // QDCOUNT
        put16(out, has_records ? 1 : 0);  // ANCOUNT
        put16(out, has_records ? 0 : 1);  // NSCOUNT: the SOA of a negative answer
        put16(out, edns ? 1 : 0);         // ARCOUNT
        out.insert(out.end(), query.begin() + 12, query.begin() + static_cast<std::ptrdiff_t>(question_end));
        if (has_records) {
            out.push_back(0xC0);  // the owner: a pointer to the question's name
            out.push_back(12);
            put16(out, kClientMxType);
            put16(out, 1);
            put32(out, name.starts_with("cached.") ? 300 : 0);
            std::vector<std::uint8_t> rdata;
            put16(rdata, 10);
            put_name(rdata, "out1.example.org");
            put16(out, static_cast<unsigned>(rdata.size()));
            out.insert(out.end(), rdata.begin(), rdata.end());
        } else {
            put_name(out, "test");
            put16(out, kTypeSoa);
            put16(out, 1);
            put32(out, 60);
            std::vector<std::uint8_t> soa;
            put_name(soa, "ns.test");
            put_name(soa, "hostmaster.test");
            for (const std::uint32_t value : {1U, 3600U, 600U, 86400U, 60U}) {
                put32(soa, value);
            }
            put16(out, static_cast<unsigned>(soa.size()));
            out.insert(out.end(), soa.begin(), soa.end());
        }
        if (edns) {
            out.push_back(0);  // root
            put16(out, kTypeOpt);
            put16(out, 1232);  // UDP payload size
            put32(out, 0);
            put16(out, 0);
        }

        Reply reply{std::chrono::steady_clock::now(), std::move(out), peer};
        if (slow) {
            std::uniform_int_distribution<long> delay(min_delay_.count(), max_delay_.count());
            reply.due += std::chrono::milliseconds(delay(random_));
            ++delayed_;
            queue.push_back(std::move(reply));
        } else {
            send(reply);
        }
    }

    std::chrono::milliseconds min_delay_;
    std::chrono::milliseconds max_delay_;
    std::minstd_rand random_{20260201};
    int fd_ = -1;
    std::uint16_t port_ = 0;
    std::atomic<bool> stop_{false};
    std::atomic<std::size_t> queries_{0};
    std::atomic<std::size_t> delayed_{0};
    std::thread thread_;
};

// A directory with an unbound.conf that sends "test." to the responder.
class ResolverConfig {
public:
    explicit ResolverConfig(std::uint16_t port) {
        std::string pattern = (std::filesystem::temp_directory_path() / "mtls-concurrency.XXXXXX").string();
        REQUIRE(mkdtemp(pattern.data()) != nullptr);
        dir_ = pattern;
        std::ofstream conf(file());
        conf << "server:\n"
                "  do-not-query-localhost: no\n"
                "  local-zone: \"test.\" nodefault\n"
                "  domain-insecure: \"test.\"\n"
                "  qname-minimisation: no\n"
                "  do-ip6: no\n"
                // Slow answers must not make libunbound think the server is
                // down (it would then answer SERVFAIL to everything).
                "  infra-cache-min-rtt: 3000\n"
                "  infra-keep-probing: yes\n"
                "stub-zone:\n"
                "  name: \"test.\"\n"
                "  stub-addr: 127.0.0.1@"
             << port << "\n";
        REQUIRE(conf.good());
    }
    ~ResolverConfig() {
        std::error_code ignored;
        std::filesystem::remove_all(dir_, ignored);
    }
    ResolverConfig(const ResolverConfig&) = delete;
    ResolverConfig& operator=(const ResolverConfig&) = delete;

    [[nodiscard]] std::string file() const { return (dir_ / "unbound.conf").string(); }

private:
    std::filesystem::path dir_;
};

class RecordingMta final : public MtaSession {
public:
    std::map<std::string, std::string, std::less<>> macros;
    std::vector<std::string> inserted;
    int deleted = 0;

    std::optional<std::string> macro(std::string_view name) override {
        if (auto it = macros.find(name); it != macros.end()) {
            return it->second;
        }
        return std::nullopt;
    }
    bool insert_header(int index, std::string_view name, std::string_view value) override {
        inserted.push_back(std::to_string(index) + " " + std::string(name) + ": " + std::string(value));
        return true;
    }
    bool delete_header(std::string_view /*name*/, int /*index*/) override {
        ++deleted;
        return true;
    }
    bool quarantine(std::string_view /*reason*/) override { return true; }
    bool set_reply(std::string_view /*code*/, std::string_view /*enhanced*/, std::string_view /*text*/) override {
        return true;
    }
};

std::shared_ptr<const Runtime> make_test_runtime(std::shared_ptr<Resolver> resolver,
                                                 std::chrono::milliseconds dns_timeout) {
    Settings settings = default_settings();
    settings.ignore_hosts = HostList();
    settings.authserv_id = "mx.example.net";
    settings.authenticator.client_mx_type = kClientMxType;
    settings.authenticator.dns_timeout = dns_timeout;
    settings.syslog = false;
    LoggerSettings logging;
    logging.syslog = false;
    logging.stderr_output = false;
    return std::make_shared<const Runtime>(settings, std::move(resolver), std::make_shared<Logger>(logging));
}

enum class Kind { fast, cached, none, slow, abandoned };

struct Outcome {
    Kind kind;
    std::string domain;
    std::vector<std::string> inserted;
    int deleted = 0;
    Status status = Status::proceed;
};

std::string result_of(const Outcome& outcome) {
    if (outcome.inserted.size() != 1) {
        return "(" + std::to_string(outcome.inserted.size()) + " headers)";
    }
    const auto& header = outcome.inserted.front();
    const auto at = header.find("mtls=");
    return at == std::string::npos ? header : header.substr(at, header.find_first_of(" \n", at) - at);
}

// One SMTP connection with `messages` transactions, as a libmilter worker
// thread would drive it.
void run_connection(const std::shared_ptr<const Runtime>& normal, const std::shared_ptr<const Runtime>& impatient,
                    int thread, int messages, std::vector<Outcome>& outcomes) {
    std::minstd_rand random(static_cast<unsigned>(thread) + 1);
    for (int i = 0; i < messages; ++i) {
        const auto kind = static_cast<Kind>((thread + i) % 5);
        const std::string id = "t" + std::to_string(thread) + "m" + std::to_string(i);
        Outcome outcome{kind, {}, {}, 0, Status::proceed};
        switch (kind) {
            case Kind::fast: outcome.domain = id + ".fast.test"; break;
            case Kind::cached: outcome.domain = "cached.fast.test"; break;
            case Kind::none: outcome.domain = id + ".none.test"; break;
            case Kind::slow:
            case Kind::abandoned: outcome.domain = id + ".slow.test"; break;
        }
        RecordingMta mta;
        mta.macros = {{"i", id}, {"{tls_version}", "TLSv1.3"}, {"{cert_subject}", "out1.example.org"}};
        Connection connection(kind == Kind::slow ? impatient : normal, false);
        connection.connect(IpAddress::parse("192.0.2.1"));
        connection.helo(mta, "out1.example.org");
        connection.mail_from(mta, "<sender@" + outcome.domain + ">");
        connection.header("Authentication-Results", "mx.example.net; mtls=pass smtp.mailfrom=forged.example");
        connection.header("Subject", "concurrency");
        if (kind == Kind::abandoned) {
            // The client goes away while the answer is on its way: the
            // lookup is cancelled now, or a little later by the next MAIL.
            std::this_thread::sleep_for(std::chrono::milliseconds(random() % 40));
            if (random() % 2 == 0) {
                connection.abort();
            } else {
                connection.mail_from(mta, "<sender@" + id + "-next.none.test>");
            }
        } else {
            outcome.status = connection.end_of_message(mta);
        }
        outcome.inserted = mta.inserted;
        outcome.deleted = mta.deleted;
        outcomes.push_back(std::move(outcome));
    }
}

}  // namespace

TEST_CASE("many connections on many threads share one UnboundResolver", "[concurrency]") {
    constexpr int kThreads = 8;
    constexpr int kMessages = 25;
    // Slow answers arrive between 20 ms before and 60 ms after the impatient
    // runtime's 80 ms timeout.
    DnsResponder dns(60ms, 140ms);
    ResolverConfig config(dns.port());
    auto resolver = UnboundResolver::create(UnboundSettings{config.file(), ""});
    const auto normal = make_test_runtime(resolver, 5s);
    const auto impatient = make_test_runtime(resolver, 80ms);

    std::vector<std::vector<Outcome>> outcomes(kThreads);
    {
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t) {
            threads.emplace_back([&, t] { run_connection(normal, impatient, t, kMessages, outcomes[t]); });
        }
        for (auto& thread : threads) {
            thread.join();
        }
    }

    for (const auto& per_thread : outcomes) {
        REQUIRE(per_thread.size() == kMessages);
        for (const auto& outcome : per_thread) {
            INFO("domain " << outcome.domain);
            if (outcome.kind == Kind::abandoned) {
                CHECK(outcome.inserted.empty());
                continue;
            }
            CHECK(outcome.status == Status::proceed);
            CHECK(outcome.deleted == 1);
            REQUIRE(outcome.inserted.size() == 1);
            CHECK(outcome.inserted.front().starts_with("0 Authentication-Results: mx.example.net;"));
            const auto result = result_of(outcome);
            switch (outcome.kind) {
                case Kind::fast:
                case Kind::cached: CHECK(result == "mtls=pass"); break;
                case Kind::none: CHECK(result == "mtls=none"); break;
                case Kind::slow: CHECK((result == "mtls=pass" || result == "mtls=temperror")); break;
                case Kind::abandoned: break;
            }
        }
    }
    CHECK(dns.delayed() > 0);
}

TEST_CASE("lookups time out and are cancelled while their answers arrive", "[concurrency]") {
    // Slow answers come 5 to 15 ms late and lookups give up after 5 to 15 ms;
    // other lookups are dropped (cancelled) without being waited for, some
    // a few hundred microseconds after they started, about when libunbound
    // delivers an immediate answer: cancel() and complete() meet often.
    DnsResponder dns(5ms, 15ms);
    ResolverConfig config(dns.port());
    auto resolver = UnboundResolver::create(UnboundSettings{config.file(), ""});

    constexpr int kThreads = 8;
    constexpr int kLookups = 150;
    std::vector<std::vector<AnswerStatus>> statuses(kThreads);
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t) {
        threads.emplace_back([&, t] {
            std::minstd_rand random(static_cast<unsigned>(t) + 100);
            for (int i = 0; i < kLookups; ++i) {
                const auto how = random() % 4;
                const std::string name =
                    "r" + std::to_string(t) + "x" + std::to_string(i) + (how == 3 ? ".fast.test" : ".slow.test");
                auto lookup = resolver->start(name, kClientMxType, std::chrono::milliseconds(5 + random() % 11));
                switch (how) {
                    case 0: statuses[t].push_back(lookup.wait().status); break;
                    case 1: std::this_thread::sleep_for(std::chrono::microseconds(5000 + random() % 11000)); break;
                    case 2: break;  // dropped at once
                    default: std::this_thread::sleep_for(std::chrono::microseconds(random() % 600)); break;
                }
            }
        });
    }
    for (auto& thread : threads) {
        thread.join();
    }
    for (const auto& per_thread : statuses) {
        for (const auto status : per_thread) {
            CHECK((status == AnswerStatus::records || status == AnswerStatus::timeout));
        }
    }
    CHECK(dns.queries() > 0);
}

TEST_CASE("the resolver can go away while lookups are in flight", "[concurrency]") {
    DnsResponder dns(150ms, 250ms);
    ResolverConfig config(dns.port());
    auto resolver = UnboundResolver::create(UnboundSettings{config.file(), ""});

    constexpr int kThreads = 6;
    std::vector<AnswerStatus> statuses(kThreads, AnswerStatus::records);
    std::vector<std::optional<Lookup>> lookups;
    for (int t = 0; t < kThreads; ++t) {
        lookups.emplace_back(resolver->start("gone" + std::to_string(t) + ".slow.test", kClientMxType, 5s));
    }
    std::vector<std::thread> waiters;
    for (int t = 0; t < kThreads; ++t) {
        waiters.emplace_back([&, t] { statuses[t] = lookups[t]->wait().status; });
    }
    std::this_thread::sleep_for(20ms);
    resolver.reset();  // the last owner: waiters are told the resolver shut down
    for (auto& waiter : waiters) {
        waiter.join();
    }
    for (const auto status : statuses) {
        CHECK((status == AnswerStatus::error || status == AnswerStatus::records));
    }
    lookups.clear();  // cancelling through a resolver that is gone does nothing
}
