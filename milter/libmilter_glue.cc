#include "libmilter_glue.h"

#include <libmilter/mfapi.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <atomic>
#include <cstring>

#include "callback_guard.h"
#include "connection.h"
#include "dmarc_connection.h"
#include "internal_error_log.h"

namespace mtls::milter {
namespace {

std::atomic<std::shared_ptr<const Runtime>> g_runtime;
std::atomic<std::size_t> g_active_connections{0};

class LibmilterSession final : public MtaSession {
public:
    explicit LibmilterSession(SMFICTX* ctx) : ctx_(ctx) {}

    std::optional<std::string> macro(std::string_view name) override {
        const std::string key(name);
        const char* value = smfi_getsymval(ctx_, const_cast<char*>(key.c_str()));  // NOLINT: C API
        if (value == nullptr) {
            return std::nullopt;
        }
        return std::string(value);
    }

    bool insert_header(int index, std::string_view name, std::string_view value) override {
        std::string n(name);
        std::string v(value);
        return smfi_insheader(ctx_, index, n.data(), v.data()) == MI_SUCCESS;
    }

    bool delete_header(std::string_view name, int index) override {
        std::string n(name);
        return smfi_chgheader(ctx_, n.data(), index, nullptr) == MI_SUCCESS;
    }

    bool quarantine(std::string_view reason) override {
        std::string r(reason);
        return smfi_quarantine(ctx_, r.data()) == MI_SUCCESS;
    }

    bool set_reply(std::string_view code, std::string_view enhanced, std::string_view text) override {
        std::string c(code);
        std::string e(enhanced);
        std::string t(text);
        return smfi_setreply(ctx_, c.data(), e.data(), t.data()) == MI_SUCCESS;
    }

private:
    SMFICTX* ctx_;
};

sfsistat to_sfsistat(Status status) {
    switch (status) {
        case Status::proceed: return SMFIS_CONTINUE;
        case Status::accept: return SMFIS_ACCEPT;
        case Status::reject: return SMFIS_REJECT;
        case Status::tempfail: return SMFIS_TEMPFAIL;
        case Status::no_reply: return SMFIS_NOREPLY;
    }
    return SMFIS_CONTINUE;
}

// The per-connection object of either stage: Connection or DmarcConnection.
template <typename AnyConnection>
AnyConnection* connection_of(SMFICTX* ctx) {
    return static_cast<AnyConnection*>(smfi_getpriv(ctx));
}

// Runs one callback body on the connection's logic; callback_guard.h's
// guarded() turns an exception into the connection's recover() answer.
template <typename AnyConnection, typename Body>
sfsistat run(SMFICTX* ctx, CallbackStage stage, Body&& body) noexcept {
    AnyConnection* connection = connection_of<AnyConnection>(ctx);
    if (connection == nullptr) {
        // Unreachable: negotiate answers REJECT whenever it cannot set up a
        // connection. Without one no forged header can be removed.
        return SMFIS_TEMPFAIL;
    }
    LibmilterSession mta(ctx);
    return to_sfsistat(guarded(*connection, mta, stage, [&] { return body(*connection, mta); }));
}

// For negotiate, which has no Connection yet.
void log_negotiate_error(std::string_view what) noexcept {
    const auto runtime = g_runtime.load();
    log_internal_error(runtime ? runtime->logger.get() : nullptr, "negotiate", "", what);
}

// What one stage asks of the MTA when a connection starts.
struct Negotiation {
    unsigned long needed_actions;  // without them the stage cannot work
    unsigned long wanted_actions;  // taken when offered
    unsigned long skipped_steps;   // steps the MTA need not send
    const char* refusal;           // logged when the MTA lacks needed_actions
};

// xxfi_negotiate for either stage: checks what the MTA offers, then
// start(ctx, runtime, steps) asks for its macros and returns the new
// per-connection object, which ctx owns from then on (freed in xxfi_close).
template <typename Start>
sfsistat negotiate(SMFICTX* ctx, const Negotiation& stage, unsigned long offered_actions, unsigned long offered_steps,
                   unsigned long* actions, unsigned long* steps, unsigned long* unused2, unsigned long* unused3,
                   Start&& start) noexcept {
    try {
        auto runtime = g_runtime.load();
        if (!runtime || (offered_actions & stage.needed_actions) != stage.needed_actions) {
            if (runtime) {
                runtime->logger->log(Severity::error, stage.refusal);
            }
            return SMFIS_REJECT;
        }
        *actions = offered_actions & stage.wanted_actions;
        *steps = offered_steps & stage.skipped_steps;
        *unused2 = 0;
        *unused3 = 0;
        auto connection = start(ctx, std::move(runtime), *steps, (offered_actions & SMFIF_SETSYMLIST) != 0);
        if (smfi_setpriv(ctx, connection.get()) != MI_SUCCESS) {
            return SMFIS_REJECT;
        }
        static_cast<void>(connection.release());  // owned by ctx now; freed in xxfi_close
        ++g_active_connections;
        return SMFIS_CONTINUE;
    } catch (const std::exception& error) {
        log_negotiate_error(error.what());
    } catch (...) {
        log_negotiate_error("unknown exception");
    }
    // libmilter then ends its session with the MTA, which applies its own
    // setting for a failed milter (Postfix: milter_default_action).
    return SMFIS_REJECT;
}

sfsistat on_negotiate(SMFICTX* ctx, unsigned long offered_actions, unsigned long offered_steps, unsigned long,
                      unsigned long, unsigned long* actions, unsigned long* steps, unsigned long* unused2,
                      unsigned long* unused3) noexcept {
    static constexpr Negotiation kStage{
        .needed_actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
        .wanted_actions = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
        // Steps we have no use for: the MTA need not send them at all.
        .skipped_steps = SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NOEOH | SMFIP_NR_HDR,
        .refusal = "MTA does not allow adding and changing headers; not filtering"};
    return negotiate(ctx, kStage, offered_actions, offered_steps, actions, steps, unused2, unused3,
                     [](SMFICTX* c, std::shared_ptr<const Runtime> runtime, unsigned long taken_steps, bool symlist) {
                         if (symlist) {
                             smfi_setsymlist(c, SMFIM_HELO, const_cast<char*>(kHeloMacros.c_str()));  // NOLINT: C API
                             const char* mail_macros =
                                 runtime->sessions ? kMailMacrosWithPolicyChannel.c_str() : kMailMacros.c_str();
                             smfi_setsymlist(c, SMFIM_ENVFROM, const_cast<char*>(mail_macros));      // NOLINT: C API
                             smfi_setsymlist(c, SMFIM_EOM, const_cast<char*>(kEndOfMessageMacros));  // NOLINT: C API
                         }
                         return std::make_unique<Connection>(std::move(runtime), (taken_steps & SMFIP_NR_HDR) != 0);
                     });
}

// The client's TCP port, which names the connection to the policy channel.
std::uint16_t port_of(const _SOCK_ADDR* address) {
    if (address == nullptr) {
        return 0;
    }
    if (address->sa_family == AF_INET) {
        sockaddr_in v4{};
        std::memcpy(&v4, address, sizeof v4);
        return ntohs(v4.sin_port);
    }
    if (address->sa_family == AF_INET6) {
        sockaddr_in6 v6{};
        std::memcpy(&v6, address, sizeof v6);
        return ntohs(v6.sin6_port);
    }
    return 0;
}

// The callbacks, for either stage's connection type.
template <typename AnyConnection>
sfsistat on_connect(SMFICTX* ctx, char*, _SOCK_ADDR* address) noexcept {
    return run<AnyConnection>(ctx, CallbackStage::connect, [&](AnyConnection& c, MtaSession&) {
        return c.connect(IpAddress::from_sockaddr(address), port_of(address));
    });
}

template <typename AnyConnection>
sfsistat on_helo(SMFICTX* ctx, char* name) noexcept {
    return run<AnyConnection>(ctx, CallbackStage::helo, [&](AnyConnection& c, MtaSession& mta) {
        return c.helo(mta, name != nullptr ? name : "");
    });
}

template <typename AnyConnection>
sfsistat on_envfrom(SMFICTX* ctx, char** argv) noexcept {
    return run<AnyConnection>(ctx, CallbackStage::mail, [&](AnyConnection& c, MtaSession& mta) {
        return c.mail_from(mta, argv != nullptr && argv[0] != nullptr ? argv[0] : "");
    });
}

template <typename AnyConnection>
sfsistat on_header(SMFICTX* ctx, char* name, char* value) noexcept {
    return run<AnyConnection>(ctx, CallbackStage::header, [&](AnyConnection& c, MtaSession&) {
        return c.header(name != nullptr ? name : "", value != nullptr ? value : "");
    });
}

// DATA is answered although there is nothing to decide there. Postfix sends
// the DATA stage's macros even for a skipped DATA step, and expects no answer;
// the next thing it writes to us (the headers, from cleanup) is then held by
// Nagle's algorithm until our kernel's delayed ACK, about 40 ms on an inet
// socket. An answer carries the ACK at once, for the cost of one round trip.
sfsistat on_data(SMFICTX*) noexcept {
    return SMFIS_CONTINUE;
}

template <typename AnyConnection>
sfsistat on_eom(SMFICTX* ctx) noexcept {
    return run<AnyConnection>(ctx, CallbackStage::end_of_message,
                              [&](AnyConnection& c, MtaSession& mta) { return c.end_of_message(mta); });
}

template <typename AnyConnection>
sfsistat on_abort(SMFICTX* ctx) noexcept {
    return run<AnyConnection>(ctx, CallbackStage::abort, [](AnyConnection& c, MtaSession&) {
        c.abort();
        return Status::proceed;
    });
}

template <typename AnyConnection>
sfsistat on_close(SMFICTX* ctx) noexcept {
    const std::unique_ptr<AnyConnection> connection(connection_of<AnyConnection>(ctx));
    if (connection) {
        connection->close();  // noexcept: logs its own failure
        // Nothing to do if this fails: libmilter frees ctx next anyway.
        static_cast<void>(smfi_setpriv(ctx, nullptr));
        --g_active_connections;
    }
    return SMFIS_CONTINUE;
}

// The DMARC stage (milter/dmarc_connection.h), registered instead of the
// above in the DMARC stage's own process (milter/dmarc_stage.h).
dmarc::DmarcMetrics* g_dmarc_metrics = nullptr;  // set once, before smfi_main

sfsistat on_dmarc_negotiate(SMFICTX* ctx, unsigned long offered_actions, unsigned long offered_steps, unsigned long,
                            unsigned long, unsigned long* actions, unsigned long* steps, unsigned long* unused2,
                            unsigned long* unused3) noexcept {
    static constexpr Negotiation kStage{
        .needed_actions = SMFIF_ADDHDRS,
        .wanted_actions = SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST,
        // It needs HELO (the null sender's SPF identity), MAIL FROM, the
        // headers and end of message, nothing else.
        .skipped_steps = SMFIP_NORCPT | SMFIP_NOBODY | SMFIP_NOUNKNOWN | SMFIP_NOEOH | SMFIP_NR_HDR,
        .refusal = "DMARC stage: MTA does not allow adding headers; not filtering"};
    return negotiate(ctx, kStage, offered_actions, offered_steps, actions, steps, unused2, unused3,
                     [](SMFICTX* c, std::shared_ptr<const Runtime> runtime, unsigned long taken_steps, bool symlist) {
                         if (symlist) {
                             smfi_setsymlist(c, SMFIM_ENVFROM, const_cast<char*>(kDmarcMailMacros));  // NOLINT: C API
                             smfi_setsymlist(c, SMFIM_EOM,
                                             const_cast<char*>(kDmarcEndOfMessageMacros));  // NOLINT: C API
                         }
                         return std::make_unique<DmarcConnection>(std::move(runtime), g_dmarc_metrics,
                                                                  (taken_steps & SMFIP_NR_HDR) != 0);
                     });
}

}  // namespace

bool register_dmarc_filter(dmarc::DmarcMetrics* metrics) {
    g_dmarc_metrics = metrics;
    smfiDesc description{};
    description.xxfi_name = const_cast<char*>("mtls-milter-dmarc");  // NOLINT: C API
    description.xxfi_version = SMFI_VERSION;
    description.xxfi_flags = SMFIF_ADDHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
    description.xxfi_connect = on_connect<DmarcConnection>;
    description.xxfi_helo = on_helo<DmarcConnection>;
    description.xxfi_envfrom = on_envfrom<DmarcConnection>;
    description.xxfi_data = on_data;
    description.xxfi_header = on_header<DmarcConnection>;
    description.xxfi_eom = on_eom<DmarcConnection>;
    description.xxfi_abort = on_abort<DmarcConnection>;
    description.xxfi_close = on_close<DmarcConnection>;
    description.xxfi_negotiate = on_dmarc_negotiate;
    return smfi_register(description) == MI_SUCCESS;
}

void install_runtime(std::shared_ptr<const Runtime> runtime) {
    g_runtime.store(std::move(runtime));
}

std::shared_ptr<const Runtime> current_runtime() {
    return g_runtime.load();
}

std::size_t active_connections() {
    return g_active_connections.load();
}

bool register_filter() {
    smfiDesc description{};
    description.xxfi_name = const_cast<char*>("mtls-milter");  // NOLINT: C API
    description.xxfi_version = SMFI_VERSION;
    description.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS | SMFIF_QUARANTINE | SMFIF_SETSYMLIST;
    description.xxfi_connect = on_connect<Connection>;
    description.xxfi_helo = on_helo<Connection>;
    description.xxfi_envfrom = on_envfrom<Connection>;
    description.xxfi_data = on_data;
    description.xxfi_header = on_header<Connection>;
    description.xxfi_eom = on_eom<Connection>;
    description.xxfi_abort = on_abort<Connection>;
    description.xxfi_close = on_close<Connection>;
    description.xxfi_negotiate = on_negotiate;
    return smfi_register(description) == MI_SUCCESS;
}

}  // namespace mtls::milter
