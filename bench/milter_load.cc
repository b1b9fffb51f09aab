// milter_load: a milter-protocol (version 6) load client, no MTA in the loop.
//
// It plays the MTA side the way Postfix does: option negotiation, then per
// connection CONNECT and HELO, and per message MAIL, (RCPT, DATA,) headers,
// (EOH, body,) end of message, honouring every step and reply the filter
// asks to skip. The TLS macros ({tls_version}, {cipher}, {cert_subject},
// {cert_issuer}) are sent with HELO and again with MAIL, as Postfix does after
// STARTTLS. N slots run concurrently, each opening one connection after the
// other, until the requested number of messages has been sent.
//
// Latency of a message: from connect() (from MAIL for later messages on the
// same connection) to the final reply to end of message.
//
// One single-threaded epoll loop drives every session, so the client costs
// little CPU next to the filter under test. It prints one JSON object.
//
// Usage: milter_load --socket unix:PATH|inet:PORT@HOST --sessions N --messages M
//        [--per-connection K] [--sender ADDR | --senders FILE [--start I]]
//        [--cert-subject CN | --no-tls] [--expect-header NAME]
//        [--timeout S] [--max-time S]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <string>
#include <vector>

#include "load_report.h"

namespace {

using Clock = std::chrono::steady_clock;

// Milter protocol constants (libmilter/mfdef.h), spelled out so that the
// client does not depend on libmilter at all.
constexpr uint32_t kVersion = 6;
constexpr uint32_t kOfferedActions = 0x1FF;
constexpr uint32_t kOfferedProtocol = 0x001FFFFF;
constexpr uint32_t NOCONNECT = 0x1, NOHELO = 0x2, NOMAIL = 0x4, NORCPT = 0x8, NOBODY = 0x10, NOHDRS = 0x20,
                   NOEOH = 0x40, NR_HDR = 0x80, NODATA = 0x200, NR_CONN = 0x1000, NR_HELO = 0x2000, NR_MAIL = 0x4000,
                   NR_RCPT = 0x8000, NR_DATA = 0x10000, NR_EOH = 0x40000, NR_BODY = 0x80000;

enum class Reply { none, single, eom, optneg };

struct Step {
    std::string bytes;
    Reply reply = Reply::none;
    bool quit = false;
};

struct Options {
    std::string socket;
    int sessions = 1;
    long messages = 100;
    int per_connection = 1;
    std::vector<std::string> senders{"sender@secure.test"};
    long start = 0;
    bool tls = true;
    std::string cert_subject = "out1.secure.test";
    std::string cert_issuer = "mtls-milter Test CA";
    std::string helo = "out1.secure.test";
    std::string expect_header;
    double timeout = 30;
    double max_time = 300;
};

struct Stats {
    long started = 0;  // messages handed to a session
    long completed = 0;
    long rejected = 0;
    long tempfailed = 0;
    long protocol_errors = 0;
    long timeouts = 0;
    long io_errors = 0;
    long missing_header = 0;
    long connect_retries = 0;
    long connections = 0;
    uint32_t negotiated_protocol = 0;
    uint32_t negotiated_actions = 0;
    std::vector<uint32_t> latency_us;
    std::vector<std::string> error_samples;
};

Options g_opt;
Stats g_stats;
int g_epoll = -1;

void note_error(const std::string& what) {
    if (g_stats.error_samples.size() < 10) {
        g_stats.error_samples.push_back(what);
    }
}

void put32(std::string& out, uint32_t v) {
    const uint32_t n = htonl(v);
    out.append(reinterpret_cast<const char*>(&n), 4);
}

std::string packet(char cmd, const std::string& data) {
    std::string out;
    put32(out, static_cast<uint32_t>(data.size() + 1));
    out.push_back(cmd);
    out += data;
    return out;
}

std::string cstr(const std::string& s) {
    std::string out = s;
    out.push_back('\0');
    return out;
}

std::string macros(char stage, const std::vector<std::pair<std::string, std::string>>& pairs) {
    std::string data(1, stage);
    for (const auto& [name, value] : pairs) {
        data += cstr(name) + cstr(value);
    }
    return packet('D', data);
}

std::vector<std::pair<std::string, std::string>> tls_macros() {
    if (!g_opt.tls) {
        return {};
    }
    return {{"{tls_version}", "TLSv1.3"},
            {"{cipher}", "TLS_AES_256_GCM_SHA384"},
            {"{cipher_bits}", "256"},
            {"{cert_subject}", g_opt.cert_subject},
            {"{cert_issuer}", g_opt.cert_issuer}};
}

struct Session {
    int fd = -1;
    bool connecting = false;
    bool active = false;
    std::string out;
    std::size_t out_off = 0;
    std::string in;
    std::deque<Step> steps;
    Reply expect = Reply::none;
    uint32_t proto = 0;
    int msgs_in_conn = 0;
    long message_no = -1;
    bool message_open = false;
    bool saw_header = false;
    bool quitting = false;
    Clock::time_point msg_start;
    Clock::time_point conn_start;
    Clock::time_point deadline;
    Clock::time_point retry_at;
    bool waiting_retry = false;
    bool negotiating = false;  // connected or connecting, no message claimed yet
};

std::vector<Session> g_sessions;
long g_negotiating = 0;  // sessions that will claim a message once negotiated

void set_negotiating(Session& s, bool on) {
    if (s.negotiating != on) {
        g_negotiating += on ? 1 : -1;
        s.negotiating = on;
    }
}

std::string queue_id(long n) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "B%010lX", n);
    return buf;
}

// The steps of one message, honouring the negotiated skips.
void queue_message(Session& s) {
    const long n = g_stats.started++;
    s.message_no = n;
    s.message_open = true;
    s.saw_header = false;
    // The first message of a connection counts from connect(), as the MTA
    // sees it: waiting to be accepted and negotiated is part of the cost.
    s.msg_start = s.msgs_in_conn == 0 ? s.conn_start : Clock::now();
    const std::string& sender =
        g_opt.senders[static_cast<std::size_t>((g_opt.start + n) % static_cast<long>(g_opt.senders.size()))];
    const std::string domain = sender.substr(sender.find('@') + 1);
    const std::string qid = queue_id(n);
    const uint32_t p = s.proto;

    if ((p & NOMAIL) == 0) {
        auto m = tls_macros();
        m.insert(m.begin(), {{"i", qid}, {"{mail_addr}", sender}, {"{mail_host}", domain}, {"{mail_mailer}", "smtp"}});
        s.steps.push_back(
            {macros('M', m) + packet('M', cstr("<" + sender + ">")), (p & NR_MAIL) ? Reply::none : Reply::single});
    }
    if ((p & NORCPT) == 0) {
        s.steps.push_back({macros('R', {{"{rcpt_addr}", "user@inbox.test"}}) + packet('R', cstr("<user@inbox.test>")),
                           (p & NR_RCPT) ? Reply::none : Reply::single});
    }
    if ((p & NODATA) == 0) {
        s.steps.push_back({packet('T', ""), (p & NR_DATA) ? Reply::none : Reply::single});
    }
    if ((p & NOHDRS) == 0) {
        const std::vector<std::pair<std::string, std::string>> headers = {
            {"Received", "from out1.secure.test (out1.secure.test [203.0.113.5]) by mx.inbox.test with ESMTPS"},
            {"Date", "Mon, 24 Nov 2025 12:00:00 +0000"},
            {"From", "<" + sender + ">"},
            {"To", "<user@inbox.test>"},
            {"Subject", "milter_load " + qid},
            {"Message-ID", "<" + qid + "@bench.test>"},
        };
        for (const auto& [name, value] : headers) {
            s.steps.push_back({packet('L', cstr(name) + cstr(value)), (p & NR_HDR) ? Reply::none : Reply::single});
        }
    }
    if ((p & NOEOH) == 0) {
        s.steps.push_back({packet('N', ""), (p & NR_EOH) ? Reply::none : Reply::single});
    }
    if ((p & NOBODY) == 0) {
        s.steps.push_back({packet('B', "Benchmark message body.\r\n"), (p & NR_BODY) ? Reply::none : Reply::single});
    }
    s.steps.push_back({macros('E', {{"i", qid}}) + packet('E', ""), Reply::eom});
}

void queue_connection_steps(Session& s) {
    const uint32_t p = s.proto;
    if ((p & NOCONNECT) == 0) {
        std::string data = cstr("out1.secure.test");
        data.push_back('4');
        const uint16_t port = htons(40000);
        data.append(reinterpret_cast<const char*>(&port), 2);
        data += cstr("203.0.113.5");  // documentation address: only a string here
        s.steps.push_back({macros('C', {{"j", "mx.inbox.test"},
                                        {"{daemon_name}", "smtpd"},
                                        {"v", "Postfix 3.7"},
                                        {"_", "out1.secure.test [203.0.113.5]"}}) +
                               packet('C', data),
                           (p & NR_CONN) ? Reply::none : Reply::single});
    }
    if ((p & NOHELO) == 0) {
        s.steps.push_back(
            {macros('H', tls_macros()) + packet('H', cstr(g_opt.helo)), (p & NR_HELO) ? Reply::none : Reply::single});
    }
}

void close_session(Session& s) {
    set_negotiating(s, false);
    if (s.fd >= 0) {
        epoll_ctl(g_epoll, EPOLL_CTL_DEL, s.fd, nullptr);
        close(s.fd);
    }
    s.fd = -1;
    s.active = false;
    s.connecting = false;
    s.out.clear();
    s.out_off = 0;
    s.in.clear();
    s.steps.clear();
    s.expect = Reply::none;
    s.quitting = false;
    s.msgs_in_conn = 0;
}

// A message that cannot complete: counted once, and the connection dropped.
void fail_message(Session& s, long& counter, const std::string& why) {
    ++counter;
    note_error(why);
    s.message_open = false;
    close_session(s);
}

void want_write(Session& s, bool on) {
    epoll_event ev{};
    ev.events = EPOLLIN | (on ? EPOLLOUT : 0U);
    ev.data.u32 = static_cast<uint32_t>(&s - g_sessions.data());
    epoll_ctl(g_epoll, EPOLL_CTL_MOD, s.fd, &ev);
}

bool flush(Session& s) {
    while (s.out_off < s.out.size()) {
        const ssize_t n = send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK) {
                want_write(s, true);
                return true;
            }
            return false;
        }
        s.out_off += static_cast<std::size_t>(n);
    }
    s.out.clear();
    s.out_off = 0;
    return true;
}

// Sends every queued step up to and including the next one that expects a
// reply, in one write (as an MTA's buffered stream would).
void pump(Session& s) {
    if (s.expect != Reply::none || !s.active) {
        return;
    }
    while (!s.steps.empty()) {
        Step step = std::move(s.steps.front());
        s.steps.pop_front();
        s.out += step.bytes;
        if (step.quit) {
            s.quitting = true;
            break;
        }
        if (step.reply != Reply::none) {
            s.expect = step.reply;
            s.deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(g_opt.timeout * 1000));
            break;
        }
    }
    if (!flush(s)) {
        if (s.message_open) {
            fail_message(s, g_stats.io_errors, "write failed: " + std::string(std::strerror(errno)));
        } else {
            ++g_stats.io_errors;
            note_error("write failed");
            close_session(s);
        }
        return;
    }
    if (s.quitting && s.out.empty()) {
        close_session(s);
    }
}

void start_connection(Session& s);

void message_done(Session& s) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - s.msg_start).count();
    g_stats.latency_us.push_back(static_cast<uint32_t>(std::min<long long>(us, UINT32_MAX)));
    ++g_stats.completed;
    s.message_open = false;
    ++s.msgs_in_conn;
    if (s.msgs_in_conn < g_opt.per_connection && g_stats.started < g_opt.messages) {
        queue_message(s);
    } else {
        Step quit{packet('Q', ""), Reply::none, true};
        s.steps.push_back(std::move(quit));
    }
}

void handle_packet(Session& s, char cmd, const std::string& data) {
    if (cmd == 'p') {  // progress: the filter is still working
        s.deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(g_opt.timeout * 1000));
        return;
    }
    switch (s.expect) {
        case Reply::optneg: {
            if (cmd != 'O' || data.size() < 12) {
                fail_message(s, g_stats.protocol_errors, "bad option negotiation reply");
                return;
            }
            uint32_t v[3];
            std::memcpy(v, data.data(), 12);
            g_stats.negotiated_actions = ntohl(v[1]);
            s.proto = g_stats.negotiated_protocol = ntohl(v[2]);
            s.expect = Reply::none;
            set_negotiating(s, false);
            if (g_stats.started >= g_opt.messages) {  // another session took the last message
                s.steps.push_back({packet('Q', ""), Reply::none, true});
                return;
            }
            queue_connection_steps(s);
            queue_message(s);
            return;
        }
        case Reply::single:
            if (cmd == 'c') {
                s.expect = Reply::none;
                return;
            }
            if (cmd == 'r' || cmd == 'y') {
                fail_message(s, g_stats.rejected, std::string("rejected before end of message: ") + cmd);
            } else if (cmd == 't') {
                fail_message(s, g_stats.tempfailed, "tempfailed before end of message");
            } else {
                fail_message(s, g_stats.protocol_errors, std::string("unexpected reply ") + cmd);
            }
            return;
        case Reply::eom:
            switch (cmd) {
                case 'h':
                case 'i': {
                    // 'i': index (4 bytes) then name; 'h': name.
                    const std::size_t off = cmd == 'i' ? 4 : 0;
                    if (data.size() > off) {
                        const std::string name(data.c_str() + off);
                        if (!g_opt.expect_header.empty() &&
                            strcasecmp(name.c_str(), g_opt.expect_header.c_str()) == 0) {
                            s.saw_header = true;
                        }
                    }
                    return;
                }
                case 'm':
                case 'q':
                case 'e':
                case '+':
                case '-':
                case '2':
                case 'b': return;  // other modifications: accepted silently
                case 'c':
                case 'a':
                    s.expect = Reply::none;
                    if (!g_opt.expect_header.empty() && !s.saw_header) {
                        ++g_stats.missing_header;
                        note_error("end of message without the expected header");
                    }
                    message_done(s);
                    return;
                case 'r':
                case 'd': fail_message(s, g_stats.rejected, std::string("end of message answered ") + cmd); return;
                case 'y':
                    if (!data.empty() && data[0] == '4') {
                        fail_message(s, g_stats.tempfailed, "end of message answered " + data.substr(0, 60));
                    } else {
                        fail_message(s, g_stats.rejected, "end of message answered " + data.substr(0, 60));
                    }
                    return;
                case 't': fail_message(s, g_stats.tempfailed, "end of message tempfailed"); return;
                default:
                    fail_message(s, g_stats.protocol_errors, std::string("unexpected end-of-message reply ") + cmd);
                    return;
            }
        case Reply::none: fail_message(s, g_stats.protocol_errors, std::string("unsolicited reply ") + cmd); return;
    }
}

void on_readable(Session& s) {
    char buf[16384];
    for (;;) {
        const ssize_t n = recv(s.fd, buf, sizeof buf, 0);
        if (n > 0) {
            s.in.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            break;
        }
        // EOF or error
        if (s.message_open) {
            fail_message(s, g_stats.io_errors, n == 0 ? "filter closed the connection" : "read error");
        } else {
            close_session(s);
        }
        return;
    }
    std::size_t pos = 0;
    while (s.active && s.in.size() - pos >= 5) {
        uint32_t len = 0;
        std::memcpy(&len, s.in.data() + pos, 4);
        len = ntohl(len);
        if (len == 0 || len > (1U << 20)) {
            fail_message(s, g_stats.protocol_errors, "bad packet length");
            return;
        }
        if (s.in.size() - pos < 4 + len) {
            break;
        }
        const char cmd = s.in[pos + 4];
        const std::string data = s.in.substr(pos + 5, len - 1);
        pos += 4 + len;
        handle_packet(s, cmd, data);
    }
    if (s.active) {
        s.in.erase(0, pos);
        pump(s);
    }
}

bool parse_socket(const std::string& spec, sockaddr_storage& addr, socklen_t& len, int& family) {
    std::memset(&addr, 0, sizeof addr);
    if (spec.rfind("unix:", 0) == 0 || spec.rfind("local:", 0) == 0) {
        auto* un = reinterpret_cast<sockaddr_un*>(&addr);
        const std::string path = spec.substr(spec.find(':') + 1);
        if (path.size() >= sizeof un->sun_path) {
            return false;
        }
        un->sun_family = AF_UNIX;
        std::strcpy(un->sun_path, path.c_str());
        len = sizeof(sockaddr_un);
        family = AF_UNIX;
        return true;
    }
    if (spec.rfind("inet:", 0) == 0) {
        const auto at = spec.find('@');
        const int port = std::atoi(spec.substr(5, at - 5).c_str());
        const std::string host = at == std::string::npos ? "127.0.0.1" : spec.substr(at + 1);
        auto* in = reinterpret_cast<sockaddr_in*>(&addr);
        in->sin_family = AF_INET;
        in->sin_port = htons(static_cast<uint16_t>(port));
        if (inet_pton(AF_INET, host.c_str(), &in->sin_addr) != 1) {
            return false;
        }
        len = sizeof(sockaddr_in);
        family = AF_INET;
        return true;
    }
    return false;
}

sockaddr_storage g_addr;
socklen_t g_addrlen = 0;
int g_family = 0;

void begin_session_io(Session& s) {
    s.connecting = false;
    ++g_stats.connections;
    s.steps.push_back({packet('O',
                              [] {
                                  std::string d;
                                  put32(d, kVersion);
                                  put32(d, kOfferedActions);
                                  put32(d, kOfferedProtocol);
                                  return d;
                              }()),
                       Reply::optneg});
    pump(s);
}

void start_connection(Session& s) {
    if (g_stats.started + g_negotiating >= g_opt.messages) {
        return;
    }
    s.fd = socket(g_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
        ++g_stats.io_errors;
        note_error("socket(): " + std::string(std::strerror(errno)));
        s.waiting_retry = true;
        s.retry_at = Clock::now() + std::chrono::milliseconds(50);
        return;
    }
    // No TCP_NODELAY on this side: Postfix does not set it either.
    s.active = true;
    s.msgs_in_conn = 0;
    s.conn_start = Clock::now();
    set_negotiating(s, true);
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(&s - g_sessions.data());
    epoll_ctl(g_epoll, EPOLL_CTL_ADD, s.fd, &ev);
    const int rc = connect(s.fd, reinterpret_cast<sockaddr*>(&g_addr), g_addrlen);
    if (rc == 0) {
        want_write(s, false);
        begin_session_io(s);
        return;
    }
    if (errno == EINPROGRESS) {
        s.connecting = true;
        return;
    }
    // Unix socket backlog full (EAGAIN) or not there yet: try again shortly.
    ++g_stats.connect_retries;
    close_session(s);
    s.waiting_retry = true;
    s.retry_at = Clock::now() + std::chrono::milliseconds(5);
}

bool parse_args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "milter_load: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--socket")
            g_opt.socket = next();
        else if (a == "--sessions")
            g_opt.sessions = std::atoi(next().c_str());
        else if (a == "--messages")
            g_opt.messages = std::atol(next().c_str());
        else if (a == "--per-connection")
            g_opt.per_connection = std::max(1, std::atoi(next().c_str()));
        else if (a == "--sender")
            g_opt.senders = {next()};
        else if (a == "--senders") {
            std::ifstream in(next());
            std::vector<std::string> list;
            for (std::string line; std::getline(in, line);) {
                if (!line.empty())
                    list.push_back(line.substr(0, line.find('\t')));
            }
            if (list.empty()) {
                std::fprintf(stderr, "milter_load: empty sender list\n");
                return false;
            }
            g_opt.senders = std::move(list);
        } else if (a == "--start")
            g_opt.start = std::atol(next().c_str());
        else if (a == "--cert-subject")
            g_opt.cert_subject = next();
        else if (a == "--no-tls")
            g_opt.tls = false;
        else if (a == "--helo")
            g_opt.helo = next();
        else if (a == "--expect-header")
            g_opt.expect_header = next();
        else if (a == "--timeout")
            g_opt.timeout = std::atof(next().c_str());
        else if (a == "--max-time")
            g_opt.max_time = std::atof(next().c_str());
        else {
            std::fprintf(stderr, "milter_load: unknown option %s\n", a.c_str());
            return false;
        }
    }
    return !g_opt.socket.empty() && g_opt.sessions > 0 && g_opt.messages > 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (!parse_args(argc, argv)) {
        std::fprintf(stderr,
                     "usage: milter_load --socket unix:PATH|inet:PORT@HOST --sessions N --messages M "
                     "[--per-connection K] [--sender A|--senders FILE [--start I]] [--cert-subject CN|--no-tls] "
                     "[--expect-header NAME] [--timeout S] [--max-time S]\n");
        return 2;
    }
    if (!parse_socket(g_opt.socket, g_addr, g_addrlen, g_family)) {
        std::fprintf(stderr, "milter_load: bad socket %s\n", g_opt.socket.c_str());
        return 2;
    }
    rlimit lim{};
    if (getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
        lim.rlim_cur = lim.rlim_max;
        setrlimit(RLIMIT_NOFILE, &lim);
    }
    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    g_sessions.resize(static_cast<std::size_t>(g_opt.sessions));
    g_stats.latency_us.reserve(static_cast<std::size_t>(g_opt.messages));

    const auto begin = Clock::now();
    const auto hard_stop = begin + std::chrono::milliseconds(static_cast<long>(g_opt.max_time * 1000));
    for (auto& s : g_sessions) {
        start_connection(s);
    }
    std::vector<epoll_event> events(1024);
    bool timed_out = false;
    for (;;) {
        bool any_active = false;
        for (const auto& s : g_sessions) {
            if (s.active || s.waiting_retry) {
                any_active = true;
                break;
            }
        }
        if (!any_active && g_stats.started >= g_opt.messages) {
            break;
        }
        const auto now = Clock::now();
        if (now >= hard_stop) {
            timed_out = true;
            break;
        }
        const int n = epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), 10);
        for (int i = 0; i < n; ++i) {
            Session& s = g_sessions[events[i].data.u32];
            if (!s.active) {
                continue;
            }
            if (s.connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    ++g_stats.connect_retries;
                    close_session(s);
                    s.waiting_retry = true;
                    s.retry_at = Clock::now() + std::chrono::milliseconds(5);
                    continue;
                }
                want_write(s, false);
                begin_session_io(s);
                continue;
            }
            if ((events[i].events & EPOLLOUT) != 0U && s.out_off < s.out.size()) {
                if (!flush(s)) {
                    if (s.message_open)
                        fail_message(s, g_stats.io_errors, "write failed");
                    else
                        close_session(s);
                    continue;
                }
                if (s.out.empty()) {
                    want_write(s, false);
                    if (s.quitting) {
                        close_session(s);
                        continue;
                    }
                }
            }
            if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0U) {
                on_readable(s);
            }
        }
        const auto after = Clock::now();
        for (auto& s : g_sessions) {
            if (s.active && s.expect != Reply::none && after > s.deadline) {
                if (s.message_open) {
                    fail_message(s, g_stats.timeouts, "no reply within the timeout");
                } else {
                    ++g_stats.timeouts;
                    note_error("no negotiation reply within the timeout");
                    close_session(s);
                }
            }
            if (!s.active && s.waiting_retry && after >= s.retry_at) {
                s.waiting_retry = false;
                start_connection(s);
            } else if (!s.active && !s.waiting_retry && g_stats.started + g_negotiating < g_opt.messages) {
                start_connection(s);
            }
        }
    }
    const double wall = std::chrono::duration<double>(Clock::now() - begin).count();
    long unfinished = 0;
    for (auto& s : g_sessions) {
        if (s.message_open) {
            ++unfinished;
        }
        close_session(s);
    }
    auto& lat = g_stats.latency_us;
    std::sort(lat.begin(), lat.end());
    double mean = 0;
    for (auto v : lat)
        mean += v;
    if (!lat.empty())
        mean /= static_cast<double>(lat.size());
    const long failed = g_stats.rejected + g_stats.tempfailed + g_stats.protocol_errors + g_stats.timeouts +
                        g_stats.io_errors + g_stats.missing_header + unfinished;
    std::printf(
        "{\"socket\": \"%s\", \"sessions\": %d, \"messages\": %ld, \"per_connection\": %d, \"started\": %ld, "
        "\"completed\": %ld, \"failed\": %ld, \"rejected\": %ld, \"tempfailed\": %ld, \"protocol_errors\": %ld, "
        "\"timeouts\": %ld, \"io_errors\": %ld, \"missing_header\": %ld, \"unfinished\": %ld, "
        "\"hit_max_time\": %s, \"connections\": %ld, \"connect_retries\": %ld, \"negotiated_protocol\": \"0x%x\", "
        "\"negotiated_actions\": \"0x%x\", \"wall_s\": %.4f, \"msgs_per_s\": %.2f, "
        "\"lat_us\": {\"p50\": %u, \"p90\": %u, \"p99\": %u, \"max\": %u, \"mean\": %.1f}, \"error_samples\": [",
        g_opt.socket.c_str(), g_opt.sessions, g_opt.messages, g_opt.per_connection, g_stats.started, g_stats.completed,
        failed, g_stats.rejected, g_stats.tempfailed, g_stats.protocol_errors, g_stats.timeouts, g_stats.io_errors,
        g_stats.missing_header, unfinished, timed_out ? "true" : "false", g_stats.connections, g_stats.connect_retries,
        g_stats.negotiated_protocol, g_stats.negotiated_actions, wall,
        wall > 0 ? static_cast<double>(g_stats.completed) / wall : 0.0, bench::percentile(lat, 0.5),
        bench::percentile(lat, 0.9), bench::percentile(lat, 0.99), lat.empty() ? 0U : lat.back(), mean);
    bench::print_error_samples(g_stats.error_samples, '?');
    std::printf("]}\n");
    return failed == 0 && !timed_out ? 0 : 1;
}
