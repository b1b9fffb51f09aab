// smtp_load: a small SMTP load generator for the benchmark, for what
// smtp-source cannot do: a different envelope sender (and message) for every
// message, drawn from a manifest, so that a filter sees thousands of
// distinct sender domains (a cold DNS cache); and the latency of every
// message, for percentiles.
//
// Like smtp-source it runs N sessions in parallel, one message per
// connection by default, no pipelining. Latency of a message: from connect()
// (or from MAIL FROM for the second and later messages on a connection) to
// the 250 reply to the end of DATA; "eod" latency: from the final "." to that
// reply, which is where a milter's end-of-message work shows.
//
// Usage: smtp_load --server HOST:PORT --sessions N --messages M
//        (--corpus MANIFEST [--start I] | --sender ADDR --message-file FILE)
//        [--per-connection K] [--helo NAME] [--rcpt ADDR] [--timeout S] [--max-time S]
// MANIFEST lines: "sender-address<TAB>message-file".
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "load_report.h"

namespace {

using Clock = std::chrono::steady_clock;

struct Entry {
    std::string sender;
    std::string data;  // CRLF, dot-stuffed, terminated by ".\r\n"
};

struct Options {
    std::string host = "127.0.0.1";
    int port = 25;
    int sessions = 1;
    long messages = 1;
    int per_connection = 1;
    long start = 0;
    std::string helo = "out1.secure.test";
    std::string rcpt = "user@inbox.test";
    double timeout = 60;
    double max_time = 600;
};

enum class State { connecting, banner, ehlo, mail, rcpt, data, body, quit };

struct Session {
    int fd = -1;
    bool active = false;
    State state = State::connecting;
    std::string in;
    std::string out;
    std::size_t out_off = 0;
    int msgs_in_conn = 0;
    bool message_open = false;
    long message_no = -1;
    Clock::time_point msg_start;
    Clock::time_point eod_sent;
    Clock::time_point deadline;
    Clock::time_point retry_at;
    bool waiting_retry = false;
};

Options g_opt;
std::vector<Entry> g_corpus;
std::vector<Session> g_sessions;
int g_epoll = -1;
sockaddr_in g_addr{};

long g_started = 0, g_accepted = 0, g_tempfailed = 0, g_rejected = 0, g_io_errors = 0, g_timeouts = 0,
     g_connect_retries = 0, g_connections = 0;
std::vector<uint32_t> g_lat, g_eod;
std::vector<std::string> g_errors;

void note_error(const std::string& e) {
    if (g_errors.size() < 10)
        g_errors.push_back(e);
}

std::string prepare(const std::string& raw) {
    std::string out;
    std::istringstream in(raw);
    for (std::string line; std::getline(in, line);) {
        if (!line.empty() && line.back() == '\r')
            line.pop_back();
        if (!line.empty() && line[0] == '.')
            out.push_back('.');
        out += line;
        out += "\r\n";
    }
    out += ".\r\n";
    return out;
}

bool load_file(const std::string& path, std::string& out) {
    std::ifstream f(path, std::ios::binary);
    if (!f)
        return false;
    std::ostringstream ss;
    ss << f.rdbuf();
    out = prepare(ss.str());
    return true;
}

void close_session(Session& s) {
    if (s.fd >= 0) {
        epoll_ctl(g_epoll, EPOLL_CTL_DEL, s.fd, nullptr);
        close(s.fd);
    }
    s.fd = -1;
    s.active = false;
    s.in.clear();
    s.out.clear();
    s.out_off = 0;
    s.msgs_in_conn = 0;
}

void fail(Session& s, long& counter, const std::string& why) {
    if (s.message_open) {
        ++counter;
        note_error(why);
        s.message_open = false;
    } else if (&counter == &g_io_errors || &counter == &g_timeouts) {
        // A connection that breaks between messages is still worth reporting.
        ++counter;
        note_error(why + " (between messages)");
    }
    close_session(s);
}

void set_events(Session& s, bool write) {
    epoll_event ev{};
    ev.events = EPOLLIN | (write ? EPOLLOUT : 0U);
    ev.data.u32 = static_cast<uint32_t>(&s - g_sessions.data());
    epoll_ctl(g_epoll, EPOLL_CTL_MOD, s.fd, &ev);
}

bool flush(Session& s) {
    while (s.out_off < s.out.size()) {
        const ssize_t n = send(s.fd, s.out.data() + s.out_off, s.out.size() - s.out_off, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EAGAIN) {
                set_events(s, true);
                return true;
            }
            return false;
        }
        s.out_off += static_cast<std::size_t>(n);
    }
    s.out.clear();
    s.out_off = 0;
    set_events(s, false);
    return true;
}

void say(Session& s, const std::string& text, State next) {
    s.out += text;
    s.state = next;
    s.deadline = Clock::now() + std::chrono::milliseconds(static_cast<long>(g_opt.timeout * 1000));
    if (!flush(s))
        fail(s, g_io_errors, "write failed");
}

const Entry& entry_for(long n) {
    return g_corpus[static_cast<std::size_t>((g_opt.start + n) % static_cast<long>(g_corpus.size()))];
}

void begin_message(Session& s, bool first) {
    if (!first) {  // the first message of a connection was claimed at connect time
        s.message_no = g_started++;
        s.msg_start = Clock::now();
    }
    s.message_open = true;
    say(s, "MAIL FROM:<" + entry_for(s.message_no).sender + ">\r\n", State::mail);
}

void start_connection(Session& s) {
    if (!s.message_open) {  // claim the connection's first message now (kept across connect retries)
        if (g_started >= g_opt.messages)
            return;
        s.message_no = g_started++;
        s.message_open = true;
    }
    s.fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s.fd < 0) {
        ++g_io_errors;
        note_error("socket() failed");
        s.waiting_retry = true;
        s.retry_at = Clock::now() + std::chrono::milliseconds(50);
        return;
    }
    s.active = true;
    s.state = State::connecting;
    s.msg_start = Clock::now();
    s.deadline = s.msg_start + std::chrono::milliseconds(static_cast<long>(g_opt.timeout * 1000));
    epoll_event ev{};
    ev.events = EPOLLIN | EPOLLOUT;
    ev.data.u32 = static_cast<uint32_t>(&s - g_sessions.data());
    epoll_ctl(g_epoll, EPOLL_CTL_ADD, s.fd, &ev);
    const int rc = connect(s.fd, reinterpret_cast<sockaddr*>(&g_addr), sizeof g_addr);
    if (rc == 0 || errno == EINPROGRESS)
        return;
    ++g_connect_retries;
    close_session(s);
    s.waiting_retry = true;
    s.retry_at = Clock::now() + std::chrono::milliseconds(20);
}

// One complete reply (possibly multi-line) has arrived.
void on_reply(Session& s, int code, const std::string& text) {
    const auto now = Clock::now();
    auto bad = [&](const char* stage) {
        const std::string why = std::string(stage) + ": " + text.substr(0, 120);
        if (code >= 500)
            fail(s, g_rejected, why);
        else if (code >= 400)
            fail(s, g_tempfailed, why);
        else
            fail(s, g_io_errors, "unexpected reply " + why);
    };
    switch (s.state) {
        case State::banner:
            if (code != 220)
                return bad("banner");
            say(s, "EHLO " + g_opt.helo + "\r\n", State::ehlo);
            return;
        case State::ehlo:
            if (code != 250)
                return bad("EHLO");
            begin_message(s, true);
            return;
        case State::mail:
            if (code != 250)
                return bad("MAIL");
            say(s, "RCPT TO:<" + g_opt.rcpt + ">\r\n", State::rcpt);
            return;
        case State::rcpt:
            if (code != 250)
                return bad("RCPT");
            say(s, "DATA\r\n", State::data);
            return;
        case State::data:
            if (code != 354)
                return bad("DATA");
            s.eod_sent = now;  // approximately: the body is small and sent at once
            say(s, entry_for(s.message_no).data, State::body);
            return;
        case State::body: {
            if (code != 250)
                return bad("end of DATA");
            const auto us = std::chrono::duration_cast<std::chrono::microseconds>(now - s.msg_start).count();
            const auto eod = std::chrono::duration_cast<std::chrono::microseconds>(now - s.eod_sent).count();
            g_lat.push_back(static_cast<uint32_t>(us));
            g_eod.push_back(static_cast<uint32_t>(eod));
            ++g_accepted;
            s.message_open = false;
            ++s.msgs_in_conn;
            if (s.msgs_in_conn < g_opt.per_connection && g_started < g_opt.messages) {
                begin_message(s, false);
            } else {
                say(s, "QUIT\r\n", State::quit);
            }
            return;
        }
        case State::quit: close_session(s); return;
        case State::connecting: return;
    }
}

void on_readable(Session& s) {
    char buf[8192];
    for (;;) {
        const ssize_t n = recv(s.fd, buf, sizeof buf, 0);
        if (n > 0) {
            s.in.append(buf, static_cast<std::size_t>(n));
            continue;
        }
        if (n < 0 && errno == EAGAIN)
            break;
        if (s.state == State::quit) {
            close_session(s);
        } else {
            fail(s, g_io_errors, n == 0 ? "server closed the connection" : "read error");
        }
        return;
    }
    for (;;) {
        // A reply is complete when a line "ddd text" (space, not '-') ends.
        std::size_t pos = 0;
        bool complete = false;
        int code = 0;
        while (pos < s.in.size()) {
            const std::size_t eol = s.in.find("\r\n", pos);
            if (eol == std::string::npos)
                break;
            if (eol - pos >= 3 && (eol - pos == 3 || s.in[pos + 3] == ' ')) {
                code = std::atoi(s.in.substr(pos, 3).c_str());
                pos = eol + 2;
                complete = true;
                break;
            }
            pos = eol + 2;
        }
        if (!complete)
            return;
        const std::string text = s.in.substr(0, pos);
        s.in.erase(0, pos);
        on_reply(s, code, text);
        if (!s.active)
            return;
    }
}

bool parse_args(int argc, char** argv) {
    std::string corpus, sender, message_file;
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto next = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "smtp_load: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--server") {
            const std::string v = next();
            const auto colon = v.rfind(':');
            g_opt.host = v.substr(0, colon);
            g_opt.port = std::atoi(v.substr(colon + 1).c_str());
        } else if (a == "--sessions")
            g_opt.sessions = std::atoi(next().c_str());
        else if (a == "--messages")
            g_opt.messages = std::atol(next().c_str());
        else if (a == "--per-connection")
            g_opt.per_connection = std::max(1, std::atoi(next().c_str()));
        else if (a == "--corpus")
            corpus = next();
        else if (a == "--start")
            g_opt.start = std::atol(next().c_str());
        else if (a == "--sender")
            sender = next();
        else if (a == "--message-file")
            message_file = next();
        else if (a == "--helo")
            g_opt.helo = next();
        else if (a == "--rcpt")
            g_opt.rcpt = next();
        else if (a == "--timeout")
            g_opt.timeout = std::atof(next().c_str());
        else if (a == "--max-time")
            g_opt.max_time = std::atof(next().c_str());
        else {
            std::fprintf(stderr, "smtp_load: unknown option %s\n", a.c_str());
            return false;
        }
    }
    if (!corpus.empty()) {
        std::ifstream in(corpus);
        // Only the entries this run uses are loaded.
        std::vector<std::pair<std::string, std::string>> lines;
        for (std::string line; std::getline(in, line);) {
            const auto tab = line.find('\t');
            if (tab != std::string::npos)
                lines.emplace_back(line.substr(0, tab), line.substr(tab + 1));
        }
        if (lines.empty())
            return false;
        const long total = static_cast<long>(lines.size());
        const long needed = std::min(total, g_opt.messages);
        const long first = g_opt.start % total;
        g_corpus.reserve(static_cast<std::size_t>(needed));
        for (long k = 0; k < needed; ++k) {
            const auto& [from, path] = lines[static_cast<std::size_t>((first + k) % total)];
            Entry e{from, {}};
            if (!load_file(path, e.data)) {
                std::fprintf(stderr, "smtp_load: cannot read %s\n", path.c_str());
                return false;
            }
            g_corpus.push_back(std::move(e));
        }
        g_opt.start = 0;
    } else if (!sender.empty() && !message_file.empty()) {
        Entry e{sender, {}};
        if (!load_file(message_file, e.data))
            return false;
        g_corpus.push_back(std::move(e));
    } else {
        return false;
    }
    return g_opt.sessions > 0 && g_opt.messages > 0;
}

}  // namespace

int main(int argc, char** argv) {
    if (!parse_args(argc, argv)) {
        std::fprintf(stderr,
                     "usage: smtp_load --server HOST:PORT --sessions N --messages M (--corpus MANIFEST [--start I] | "
                     "--sender A --message-file F) [--per-connection K] [--helo H] [--rcpt A] [--timeout S] "
                     "[--max-time S]\n");
        return 2;
    }
    g_addr.sin_family = AF_INET;
    g_addr.sin_port = htons(static_cast<uint16_t>(g_opt.port));
    if (inet_pton(AF_INET, g_opt.host.c_str(), &g_addr.sin_addr) != 1) {
        std::fprintf(stderr, "smtp_load: bad host %s\n", g_opt.host.c_str());
        return 2;
    }
    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    g_sessions.resize(static_cast<std::size_t>(g_opt.sessions));
    const auto begin = Clock::now();
    const auto hard_stop = begin + std::chrono::milliseconds(static_cast<long>(g_opt.max_time * 1000));
    for (auto& s : g_sessions)
        start_connection(s);
    std::vector<epoll_event> events(256);
    bool timed_out = false;
    for (;;) {
        bool busy = false;
        for (const auto& s : g_sessions) {
            if (s.active || s.waiting_retry || s.message_open) {
                busy = true;
                break;
            }
        }
        if (!busy && g_started >= g_opt.messages)
            break;
        if (Clock::now() >= hard_stop) {
            timed_out = true;
            break;
        }
        const int n = epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), 10);
        for (int i = 0; i < n; ++i) {
            Session& s = g_sessions[events[i].data.u32];
            if (!s.active)
                continue;
            if (s.state == State::connecting) {
                int err = 0;
                socklen_t len = sizeof err;
                getsockopt(s.fd, SOL_SOCKET, SO_ERROR, &err, &len);
                if (err != 0) {
                    ++g_connect_retries;
                    close_session(s);
                    s.waiting_retry = true;
                    s.retry_at = Clock::now() + std::chrono::milliseconds(20);
                    continue;
                }
                ++g_connections;
                s.state = State::banner;
                set_events(s, false);
                continue;
            }
            if ((events[i].events & EPOLLOUT) != 0U && s.out_off < s.out.size()) {
                if (!flush(s)) {
                    fail(s, g_io_errors, "write failed");
                    continue;
                }
            }
            if ((events[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0U)
                on_readable(s);
        }
        const auto now = Clock::now();
        for (auto& s : g_sessions) {
            if (s.active && now > s.deadline)
                fail(s, g_timeouts, "no reply within the timeout");
            if (!s.active && s.waiting_retry && now >= s.retry_at) {
                s.waiting_retry = false;
                start_connection(s);
            } else if (!s.active && !s.waiting_retry && (s.message_open || g_started < g_opt.messages)) {
                start_connection(s);
            }
        }
    }
    const double wall = std::chrono::duration<double>(Clock::now() - begin).count();
    long unfinished = 0;
    for (auto& s : g_sessions) {
        if (s.message_open)
            ++unfinished;
        close_session(s);
    }
    std::sort(g_lat.begin(), g_lat.end());
    std::sort(g_eod.begin(), g_eod.end());
    const long failed = g_tempfailed + g_rejected + g_io_errors + g_timeouts + unfinished;
    std::printf(
        "{\"sessions\": %d, \"messages\": %ld, \"started\": %ld, \"accepted\": %ld, \"failed\": %ld, "
        "\"tempfailed\": %ld, \"rejected\": %ld, \"io_errors\": %ld, \"timeouts\": %ld, \"unfinished\": %ld, "
        "\"hit_max_time\": %s, \"connections\": %ld, \"connect_retries\": %ld, \"wall_s\": %.4f, \"msgs_per_s\": %.2f, "
        "\"lat_us\": {\"p50\": %u, \"p90\": %u, \"p99\": %u, \"max\": %u}, "
        "\"eod_us\": {\"p50\": %u, \"p90\": %u, \"p99\": %u, \"max\": %u}, \"error_samples\": [",
        g_opt.sessions, g_opt.messages, g_started, g_accepted, failed, g_tempfailed, g_rejected, g_io_errors,
        g_timeouts, unfinished, timed_out ? "true" : "false", g_connections, g_connect_retries, wall,
        wall > 0 ? static_cast<double>(g_accepted) / wall : 0.0, bench::percentile(g_lat, 0.5),
        bench::percentile(g_lat, 0.9), bench::percentile(g_lat, 0.99), g_lat.empty() ? 0U : g_lat.back(),
        bench::percentile(g_eod, 0.5), bench::percentile(g_eod, 0.9), bench::percentile(g_eod, 0.99),
        g_eod.empty() ? 0U : g_eod.back());
    bench::print_error_samples(g_errors, ' ');
    std::printf("]}\n");
    return failed == 0 && !timed_out ? 0 : 1;
}
