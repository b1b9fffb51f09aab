// dns_delay: a loopback UDP DNS proxy that holds every answer back for a
// fixed time, to make an authoritative server look far away. Queries are
// forwarded at once (with a fresh query id, restored on the way back);
// answers are released DELAY_MS after they arrive, many in flight at once.
// Answers with the TC bit are passed on unchanged (the proxy has no TCP),
// and counted: the benchmark checks that there were none.
//
// Usage: dns_delay LISTEN_PORT UPSTREAM_PORT DELAY_MS
// Runs until SIGTERM/SIGINT; then prints one JSON line of counters on stdout.
// SIGUSR1 prints the counters since the last SIGUSR1 and starts them afresh.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <queue>
#include <string>
#include <unordered_map>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

volatile std::sig_atomic_t g_stop = 0;
volatile std::sig_atomic_t g_dump = 0;

void on_signal(int) {
    g_stop = 1;
}

void on_usr1(int) {
    g_dump = 1;
}

struct Pending {
    sockaddr_in client{};
    uint16_t client_id = 0;
    Clock::time_point sent;
};

struct Release {
    Clock::time_point due;
    sockaddr_in client{};
    std::string packet;
    bool operator>(const Release& other) const { return due > other.due; }
};

}  // namespace

int main(int argc, char** argv) {
    if (argc != 4) {
        std::fprintf(stderr, "usage: dns_delay LISTEN_PORT UPSTREAM_PORT DELAY_MS\n");
        return 2;
    }
    const int listen_port = std::atoi(argv[1]);
    const int upstream_port = std::atoi(argv[2]);
    const auto delay = std::chrono::milliseconds(std::atoi(argv[3]));
    std::signal(SIGTERM, on_signal);
    std::signal(SIGINT, on_signal);
    struct sigaction usr1 {};
    usr1.sa_handler = on_usr1;  // no SA_RESTART: poll() returns at once
    sigaction(SIGUSR1, &usr1, nullptr);

    const int front = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    const int back = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int size = 4 << 20;
    setsockopt(front, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    setsockopt(back, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
    sockaddr_in local{};
    local.sin_family = AF_INET;
    local.sin_port = htons(static_cast<uint16_t>(listen_port));
    inet_pton(AF_INET, "127.0.0.1", &local.sin_addr);
    if (bind(front, reinterpret_cast<sockaddr*>(&local), sizeof local) != 0) {
        std::perror("dns_delay: bind");
        return 1;
    }
    sockaddr_in upstream{};
    upstream.sin_family = AF_INET;
    upstream.sin_port = htons(static_cast<uint16_t>(upstream_port));
    inet_pton(AF_INET, "127.0.0.1", &upstream.sin_addr);
    if (connect(back, reinterpret_cast<sockaddr*>(&upstream), sizeof upstream) != 0) {
        std::perror("dns_delay: connect");
        return 1;
    }
    std::fprintf(stderr, "dns_delay: 127.0.0.1:%d -> 127.0.0.1:%d, +%d ms\n", listen_port, upstream_port,
                 std::atoi(argv[3]));

    std::unordered_map<uint16_t, Pending> pending;
    std::priority_queue<Release, std::vector<Release>, std::greater<>> releases;
    uint16_t next_id = 1;
    long queries = 0, answers = 0, truncated = 0, dropped = 0, max_in_flight = 0, max_held = 0;
    char buf[65536];

    auto print_counters = [&] {
        std::printf(
            "{\"queries\": %ld, \"answers\": %ld, \"truncated\": %ld, \"dropped\": %ld, \"max_in_flight\": %ld, "
            "\"max_held\": %ld}\n",
            queries, answers, truncated, dropped, max_in_flight, max_held);
        std::fflush(stdout);
    };
    while (!g_stop) {
        if (g_dump) {
            g_dump = 0;
            print_counters();
            queries = answers = truncated = dropped = max_in_flight = max_held = 0;
        }
        int timeout_ms = 200;
        if (!releases.empty()) {
            const auto wait = std::chrono::duration_cast<std::chrono::milliseconds>(releases.top().due - Clock::now());
            timeout_ms = static_cast<int>(std::max<long>(0, std::min<long>(200, wait.count())));
        }
        pollfd fds[2] = {{front, POLLIN, 0}, {back, POLLIN, 0}};
        const int ready = poll(fds, 2, timeout_ms);
        if (ready < 0 && errno != EINTR) {
            break;
        }
        if (ready > 0 && (fds[0].revents & POLLIN) != 0) {
            for (;;) {  // queries
                sockaddr_in from{};
                socklen_t fromlen = sizeof from;
                const ssize_t n =
                    recvfrom(front, buf, sizeof buf, MSG_DONTWAIT, reinterpret_cast<sockaddr*>(&from), &fromlen);
                if (n < 12) {
                    break;
                }
                ++queries;
                uint16_t id = 0;
                std::memcpy(&id, buf, 2);
                uint16_t mine = next_id++;
                if (next_id == 0)
                    next_id = 1;
                if (pending.count(htons(mine)) != 0U) {
                    ++dropped;  // 65535 queries in flight: never happens here
                    continue;
                }
                pending[htons(mine)] = Pending{from, id, Clock::now()};
                max_in_flight = std::max<long>(max_in_flight, static_cast<long>(pending.size()));
                const uint16_t wire = htons(mine);
                std::memcpy(buf, &wire, 2);
                send(back, buf, static_cast<std::size_t>(n), 0);
            }
        }
        if (ready > 0 && (fds[1].revents & POLLIN) != 0) {
            for (;;) {  // answers
                const ssize_t n = recv(back, buf, sizeof buf, MSG_DONTWAIT);
                if (n < 12) {
                    break;
                }
                uint16_t id = 0;
                std::memcpy(&id, buf, 2);
                auto it = pending.find(id);
                if (it == pending.end()) {
                    continue;
                }
                if ((static_cast<unsigned char>(buf[2]) & 0x02) != 0) {
                    ++truncated;
                }
                std::memcpy(buf, &it->second.client_id, 2);
                releases.push(
                    Release{it->second.sent + delay, it->second.client, std::string(buf, static_cast<std::size_t>(n))});
                pending.erase(it);
                max_held = std::max<long>(max_held, static_cast<long>(releases.size()));
            }
        }
        const auto now = Clock::now();
        while (!releases.empty() && releases.top().due <= now) {
            const Release& r = releases.top();
            sendto(front, r.packet.data(), r.packet.size(), 0, reinterpret_cast<const sockaddr*>(&r.client),
                   sizeof r.client);
            ++answers;
            releases.pop();
        }
        // Forget queries whose answer never came (upstream lost them).
        if (pending.size() > 1000) {
            for (auto it = pending.begin(); it != pending.end();) {
                if (now - it->second.sent > std::chrono::seconds(30))
                    it = pending.erase(it);
                else
                    ++it;
            }
        }
    }
    print_counters();
    return 0;
}
