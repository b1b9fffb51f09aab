// socketmap_load: a load client for Postfix's socketmap protocol
// (socketmap_table(5)), the way smtp(8) asks a TLS policy server.
//
// N clients each hold one connection open, as Postfix's processes do, and
// send one request at a time: the netstring "NAME KEY", then wait for the
// netstring reply ("OK ...", "NOTFOUND ", "TEMP ...", "PERM ..."). Keys come
// from a file, one per line, and are used in turn across all clients
// (request i asks for key i mod K), so a file of distinct domains gives a
// cold lookup per request and a short file a warm cache.
//
// Latency of a request: from the first byte written to the last byte of the
// reply read. One single-threaded epoll loop drives every client, so the
// client costs little CPU next to the server under test. Prints one JSON
// object.
//
// --duration S stops starting requests after S seconds (the requests in
// flight still count), so that a slow server and a fast one can be measured
// for the same time rather than the same count.
//
// Usage: socketmap_load --socket unix:PATH|inet:PORT@HOST --clients N --requests M
//        (--key KEY | --keys FILE) [--map NAME] [--expect PREFIX]
//        [--duration S] [--timeout S] [--max-time S]
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
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
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include "load_report.h"

namespace {

using Clock = std::chrono::steady_clock;

// Postfix refuses socketmap replies longer than this (socketmap_table(5)).
constexpr std::size_t kMaxReply = 100000;

struct Options {
    std::string socket;
    int clients = 1;
    long requests = 1000;
    std::vector<std::string> keys;
    std::string map = "postfix";
    std::string expect;
    double duration = 0;  // 0: until --requests are done
    double timeout = 30;
    double max_time = 300;
};

struct Stats {
    long started = 0;
    long completed = 0;
    long unexpected = 0;  // replies not starting with --expect
    long io_errors = 0;
    long protocol_errors = 0;
    long timeouts = 0;
    long connections = 0;
    std::map<std::string, long> kinds;  // OK, NOTFOUND, TEMP, PERM, other
    std::vector<uint32_t> latency_us;
    std::vector<std::string> error_samples;
};

Options g_opt;
Stats g_stats;
int g_epoll = -1;
Clock::time_point g_stop_starting = Clock::time_point::max();

void note_error(const std::string& what) {
    if (g_stats.error_samples.size() < 10) {
        g_stats.error_samples.push_back(what);
    }
}

struct Client {
    int fd = -1;
    bool busy = false;  // a request is out
    std::string out;
    std::size_t out_off = 0;
    std::string in;
    Clock::time_point sent_at;
    Clock::time_point deadline;
};

std::vector<Client> g_clients;

std::string netstring(const std::string& s) {
    return std::to_string(s.size()) + ":" + s + ",";
}

bool arm(Client& c, uint32_t events, int op) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = static_cast<uint64_t>(&c - g_clients.data());
    return epoll_ctl(g_epoll, op, c.fd, &ev) == 0;
}

void close_client(Client& c) {
    if (c.fd >= 0) {
        epoll_ctl(g_epoll, EPOLL_CTL_DEL, c.fd, nullptr);
        close(c.fd);
    }
    c = Client{};
}

// Connections are made before any request and their time is not measured:
// a blocking connect waits while a server's listen backlog is full (where a
// non-blocking one on a unix socket fails with EAGAIN), as Postfix's
// processes, which connect once and then reuse, would.
int connect_blocking(int fd, const sockaddr* sa, socklen_t len) {
    timeval tv{};
    tv.tv_sec = static_cast<time_t>(g_opt.timeout);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    int rc = -1;
    do {
        rc = connect(fd, sa, len);
    } while (rc != 0 && errno == EINTR);
    return rc;
}

bool open_client(Client& c) {
    const std::string& s = g_opt.socket;
    int fd = -1;
    int rc = -1;
    if (s.rfind("unix:", 0) == 0) {
        sockaddr_un sa{};
        sa.sun_family = AF_UNIX;
        const std::string path = s.substr(5);
        if (path.size() >= sizeof sa.sun_path) {
            return false;
        }
        std::memcpy(sa.sun_path, path.c_str(), path.size() + 1);
        fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return false;
        }
        rc = connect_blocking(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else if (s.rfind("inet:", 0) == 0) {
        const auto at = s.find('@');
        sockaddr_in sa{};
        sa.sin_family = AF_INET;
        sa.sin_port = htons(static_cast<uint16_t>(std::atoi(s.substr(5, at - 5).c_str())));
        const std::string host = at == std::string::npos ? "127.0.0.1" : s.substr(at + 1);
        if (inet_pton(AF_INET, host.c_str(), &sa.sin_addr) != 1) {
            return false;
        }
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            return false;
        }
        rc = connect_blocking(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa);
    } else {
        return false;
    }
    if (rc != 0) {
        note_error(std::string("connect: ") + std::strerror(errno));
        close(fd);
        return false;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    c.fd = fd;
    ++g_stats.connections;
    return arm(c, EPOLLOUT | EPOLLIN, EPOLL_CTL_ADD);
}

// Claims the next request for `c`, if any are left; false when done.
bool start_request(Client& c) {
    if (g_stats.started >= g_opt.requests) {
        return false;
    }
    const auto now = Clock::now();
    if (now >= g_stop_starting) {
        g_opt.requests = g_stats.started;  // no client starts another
        return false;
    }
    const long n = g_stats.started++;
    const std::string& key = g_opt.keys[static_cast<std::size_t>(n % static_cast<long>(g_opt.keys.size()))];
    c.out = netstring(g_opt.map + " " + key);
    c.out_off = 0;
    c.in.clear();
    c.busy = true;
    c.sent_at = now;
    c.deadline = c.sent_at + std::chrono::microseconds(static_cast<long>(g_opt.timeout * 1e6));
    return true;
}

// A complete netstring in c.in: its payload; "" with ok=false when more is
// needed; sets bad on a malformed one.
bool parse_reply(const std::string& in, std::string& payload, bool& bad) {
    const auto colon = in.find(':');
    if (colon == std::string::npos) {
        bad = in.size() > 7 || !std::all_of(in.begin(), in.end(), [](char ch) { return ch >= '0' && ch <= '9'; });
        return false;
    }
    if (colon == 0 || colon > 6) {
        bad = true;
        return false;
    }
    const std::size_t len = std::strtoul(in.substr(0, colon).c_str(), nullptr, 10);
    if (len > kMaxReply) {
        bad = true;
        return false;
    }
    if (in.size() < colon + 1 + len + 1) {
        return false;
    }
    if (in[colon + 1 + len] != ',' || in.size() != colon + 1 + len + 1) {
        bad = true;
        return false;
    }
    payload = in.substr(colon + 1, len);
    return true;
}

void finish_request(Client& c, const std::string& reply) {
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - c.sent_at).count();
    g_stats.latency_us.push_back(static_cast<uint32_t>(std::min<long long>(us, UINT32_MAX)));
    ++g_stats.completed;
    const auto space = reply.find(' ');
    const std::string kind = reply.substr(0, space);
    if (kind == "OK" || kind == "NOTFOUND" || kind == "TEMP" || kind == "PERM") {
        ++g_stats.kinds[kind];
    } else {
        ++g_stats.kinds["other"];
    }
    if (!g_opt.expect.empty() && reply.rfind(g_opt.expect, 0) != 0) {
        ++g_stats.unexpected;
        note_error("unexpected reply: " + reply.substr(0, 120));
    }
    c.busy = false;
}

void fail(Client& c, long& counter, const std::string& what) {
    ++counter;
    note_error(what);
    if (c.busy) {
        ++g_stats.completed;  // counted as done, not as answered
    }
    close_client(c);
}

void drive(Client& c, uint32_t events) {
    if (!c.busy && !start_request(c)) {
        close_client(c);
        return;
    }
    if ((events & EPOLLOUT) != 0 && c.out_off < c.out.size()) {
        const ssize_t n = send(c.fd, c.out.data() + c.out_off, c.out.size() - c.out_off, MSG_NOSIGNAL);
        if (n < 0 && errno != EAGAIN) {
            fail(c, g_stats.io_errors, std::string("send: ") + std::strerror(errno));
            return;
        }
        if (n > 0) {
            c.out_off += static_cast<std::size_t>(n);
        }
    }
    if ((events & (EPOLLIN | EPOLLHUP | EPOLLERR)) != 0) {
        char buf[4096];
        for (;;) {
            const ssize_t n = recv(c.fd, buf, sizeof buf, 0);
            if (n > 0) {
                c.in.append(buf, static_cast<std::size_t>(n));
                continue;
            }
            if (n == 0) {
                fail(c, g_stats.io_errors, "server closed the connection");
                return;
            }
            if (errno != EAGAIN) {
                fail(c, g_stats.io_errors, std::string("recv: ") + std::strerror(errno));
                return;
            }
            break;
        }
        std::string reply;
        bool bad = false;
        if (parse_reply(c.in, reply, bad)) {
            finish_request(c, reply);
            if (!start_request(c)) {
                close_client(c);
                return;
            }
            // Write at once: the socket is almost always writable.
            const ssize_t n = send(c.fd, c.out.data(), c.out.size(), MSG_NOSIGNAL);
            if (n > 0) {
                c.out_off = static_cast<std::size_t>(n);
            }
        } else if (bad) {
            fail(c, g_stats.protocol_errors, "malformed reply: " + c.in.substr(0, 80));
            return;
        }
    }
    arm(c, EPOLLIN | (c.out_off < c.out.size() ? static_cast<uint32_t>(EPOLLOUT) : 0U), EPOLL_CTL_MOD);
}

bool parse_args(int argc, char** argv) {
    for (int i = 1; i < argc; ++i) {
        const std::string a = argv[i];
        auto value = [&]() -> std::string {
            if (i + 1 >= argc) {
                std::fprintf(stderr, "socketmap_load: %s needs a value\n", a.c_str());
                std::exit(2);
            }
            return argv[++i];
        };
        if (a == "--socket") {
            g_opt.socket = value();
        } else if (a == "--clients") {
            g_opt.clients = std::max(1, std::atoi(value().c_str()));
        } else if (a == "--requests") {
            g_opt.requests = std::max(1L, std::atol(value().c_str()));
        } else if (a == "--key") {
            g_opt.keys = {value()};
        } else if (a == "--keys") {
            std::ifstream in(value());
            std::string line;
            g_opt.keys.clear();
            while (std::getline(in, line)) {
                if (!line.empty()) {
                    g_opt.keys.push_back(line);
                }
            }
        } else if (a == "--map") {
            g_opt.map = value();
        } else if (a == "--expect") {
            g_opt.expect = value();
        } else if (a == "--duration") {
            g_opt.duration = std::atof(value().c_str());
        } else if (a == "--timeout") {
            g_opt.timeout = std::atof(value().c_str());
        } else if (a == "--max-time") {
            g_opt.max_time = std::atof(value().c_str());
        } else {
            std::fprintf(stderr, "socketmap_load: unknown option %s\n", a.c_str());
            return false;
        }
    }
    return !g_opt.socket.empty() && !g_opt.keys.empty();
}

}  // namespace

int main(int argc, char** argv) {
    if (!parse_args(argc, argv)) {
        std::fprintf(stderr,
                     "usage: socketmap_load --socket unix:PATH|inet:PORT@HOST --clients N --requests M "
                     "(--key KEY | --keys FILE) [--map NAME] [--expect PREFIX] [--duration S] [--timeout S] "
                     "[--max-time S]\n");
        return 2;
    }
    rlimit rl{};
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    g_epoll = epoll_create1(EPOLL_CLOEXEC);
    g_clients.resize(static_cast<std::size_t>(g_opt.clients));
    g_stats.latency_us.reserve(static_cast<std::size_t>(g_opt.requests));

    const auto begin = Clock::now();
    if (g_opt.duration > 0) {
        g_stop_starting = begin + std::chrono::microseconds(static_cast<long>(g_opt.duration * 1e6));
    }
    const auto end_by = begin + std::chrono::microseconds(static_cast<long>(g_opt.max_time * 1e6));
    for (auto& c : g_clients) {
        if (!open_client(c)) {
            ++g_stats.io_errors;
            close_client(c);
        }
    }
    std::vector<epoll_event> events(static_cast<std::size_t>(g_opt.clients) + 1);
    bool timed_out = false;
    for (;;) {
        const bool any = std::any_of(g_clients.begin(), g_clients.end(), [](const Client& c) { return c.fd >= 0; });
        if (!any) {
            // Clients lost to errors come back while requests are left.
            if (g_stats.started >= g_opt.requests || g_stats.io_errors + g_stats.protocol_errors > 1000) {
                break;
            }
            for (auto& c : g_clients) {
                if (!open_client(c)) {
                    close_client(c);
                }
            }
            if (std::none_of(g_clients.begin(), g_clients.end(), [](const Client& c) { return c.fd >= 0; })) {
                break;
            }
        }
        const auto now = Clock::now();
        if (now >= end_by) {
            timed_out = true;
            break;
        }
        const int n = epoll_wait(g_epoll, events.data(), static_cast<int>(events.size()), 100);
        for (int i = 0; i < n; ++i) {
            drive(g_clients[events[static_cast<std::size_t>(i)].data.u64], events[static_cast<std::size_t>(i)].events);
        }
        const auto after = Clock::now();
        for (auto& c : g_clients) {
            if (c.fd >= 0 && c.busy && after > c.deadline) {
                fail(c, g_stats.timeouts, "no reply within the timeout");
            }
        }
    }
    const double seconds = std::chrono::duration<double>(Clock::now() - begin).count();
    for (auto& c : g_clients) {
        close_client(c);
    }

    auto& lat = g_stats.latency_us;
    std::sort(lat.begin(), lat.end());
    const long answered = static_cast<long>(lat.size());
    std::printf("{\"socket\": \"%s\", \"clients\": %d, \"requests\": %ld, \"answered\": %ld, ", g_opt.socket.c_str(),
                g_opt.clients, g_opt.requests, answered);
    std::printf("\"seconds\": %.4f, \"per_s\": %.1f, ", seconds,
                seconds > 0 ? static_cast<double>(answered) / seconds : 0.0);
    std::printf("\"p50_us\": %u, \"p90_us\": %u, \"p99_us\": %u, \"max_us\": %u, ", bench::percentile(lat, 0.50),
                bench::percentile(lat, 0.90), bench::percentile(lat, 0.99), lat.empty() ? 0U : lat.back());
    std::printf("\"replies\": {");
    bool first = true;
    for (const auto& [kind, count] : g_stats.kinds) {
        std::printf("%s\"%s\": %ld", first ? "" : ", ", kind.c_str(), count);
        first = false;
    }
    std::printf("}, \"unexpected\": %ld, \"io_errors\": %ld, \"protocol_errors\": %ld, \"timeouts\": %ld, ",
                g_stats.unexpected, g_stats.io_errors, g_stats.protocol_errors, g_stats.timeouts);
    std::printf("\"connections\": %ld, \"timed_out\": %s, \"errors\": [", g_stats.connections,
                timed_out ? "true" : "false");
    bench::print_error_samples(g_stats.error_samples, '?');
    std::printf("]}\n");
    return 0;
}
