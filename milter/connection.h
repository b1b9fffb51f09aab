// One SMTP connection as the milter sees it, and the message in progress on
// it. Pure logic over the MtaSession seam: no libmilter types here.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "base/ip_address.h"
#include "mta_session.h"
#include "mtls/action.h"
#include "mtls/authenticator.h"
#include "runtime.h"

namespace mtls::milter {

// A space-separated list of macro names, NUL-terminated as smfi_setsymlist
// wants it; lists join at compile time, so each name is spelt once.
template <std::size_t Size>  // the NUL included
struct MacroList {
    std::array<char, Size> text{};

    constexpr MacroList() = default;
    // NOLINTNEXTLINE(*-avoid-c-arrays,google-explicit-constructor): built from string literals
    consteval MacroList(const char (&literal)[Size]) {
        for (std::size_t i = 0; i < Size; ++i) {
            text.at(i) = literal[i];  // NOLINT(*-pro-bounds-constant-array-index): i < Size
        }
    }
    [[nodiscard]] constexpr const char* c_str() const { return text.data(); }
    [[nodiscard]] constexpr std::string_view view() const { return {text.data(), Size - 1}; }
};
template <std::size_t Size>
MacroList(const char (&)[Size]) -> MacroList<Size>;  // NOLINT(*-avoid-c-arrays)

template <MacroList... Parts>
consteval auto join_macro_lists() {
    MacroList<(Parts.text.size() + ...)> list;  // each part's NUL becomes a space, the last one the NUL
    std::size_t at = 0;
    for (const std::string_view part : {Parts.view()...}) {
        if (at != 0) {
            list.text.at(at++) = ' ';
        }
        for (const char c : part) {
            list.text.at(at++) = c;
        }
    }
    return list;
}

// Macros requested per stage with smfi_setsymlist. On Postfix a list set
// here replaces main.cf's for that stage, so the MAIL list repeats Postfix's
// defaults. The TLS session's macros, which evidence_from_macros
// (core/tls/tls_evidence.cc) reads, are asked for at HELO and again at MAIL,
// because Postfix resets its HELO state after STARTTLS.
inline constexpr MacroList kTlsSessionMacros =
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} {cn_issuer} {cert_fp}";
// Postfix's default MAIL stage macros, less the TLS ones.
inline constexpr MacroList kPostfixMailMacros =
    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} "
    "{mail_mailer}";
// With the policy channel on, {client_addr} and {client_port} also name the
// connection to it when the connect callback gave no usable address. Asked
// for only then: every macro is work for the MTA on every message.
inline constexpr MacroList kPolicyChannelMacros = "{client_addr} {client_port}";
// The MTA's name and version: Postfix's v is "Postfix 3.7.x", Sendmail's a bare
// "8.17.1.9". It tells Sendmail from Postfix when a session without STARTTLS
// has no {verify} (core/tls/tls_evidence.cc). Sendmail uses these lists
// instead of the .mc's, so it must be asked for here.
inline constexpr MacroList kMtaVersionMacro = "v";

inline constexpr auto kHeloMacros = join_macro_lists<kTlsSessionMacros, kMtaVersionMacro>();
inline constexpr auto kMailMacros = join_macro_lists<kPostfixMailMacros, kTlsSessionMacros, kMtaVersionMacro>();
inline constexpr auto kMailMacrosWithPolicyChannel =
    join_macro_lists<kPostfixMailMacros, kTlsSessionMacros, kMtaVersionMacro, kPolicyChannelMacros>();
inline constexpr const char* kEndOfMessageMacros = "i";

// The transaction in progress. Outside Connection so that it is complete
// before std::optional<MessageState> is instantiated (clang needs that).
struct MessageState {
    std::string raw_reverse_path;
    std::string helo;  // the HELO name in force for this transaction
    std::string queue_id;
    std::optional<PendingCheck> check;
    TlsEvidence evidence;
    bool authenticated = false;
    int header_count = 0;             // Authentication-Results seen so far
    std::vector<int> forged_indexes;  // those claiming our authserv-id (1-based)
    std::string policy_channel;       // "matched", "none", or "" when not asked
    bool discovery_looked = false;    // the first header looked for a fingerprint to probe for
    // A callback for this transaction failed (see Connection::recover): it
    // gets no verdict, only what on-internal-error allows.
    bool internal_error = false;
    // A header callback failed, so forged_indexes may miss one: the message
    // is never accepted.
    bool forged_unknown = false;
    bool forged_removed = false;    // remove_forged_headers succeeded
    bool tagged = false;            // our Authentication-Results was inserted
    std::optional<Status> decided;  // end_of_message's answer, once known
};
// Connection::recover sets up a transaction after a failed MAIL callback, so
// that its forged headers are still tracked; that must not throw itself.
static_assert(std::is_nothrow_default_constructible_v<MessageState>);

class Connection {
public:
    Connection(std::shared_ptr<const Runtime> runtime, bool headers_need_no_reply);

    // client_port is 0 when unknown (a unix-domain or unknown-family client).
    Status connect(std::optional<IpAddress> client, std::uint16_t client_port = 0);
    Status helo(MtaSession& mta, std::string_view name);
    Status mail_from(MtaSession& mta, std::string_view reverse_path);
    Status header(std::string_view name, std::string_view value);
    Status end_of_message(MtaSession& mta);
    void abort();
    // The MTA closed the connection (also the destructor's job, for safety).
    // Never throws: a failure to drop the policy-channel entry is logged.
    void close() noexcept;

    // What the callback at stage answers after its body threw what (see
    // milter/callback_guard.h). Logs the error and applies on-internal-error:
    // tempfail answers TEMPFAIL; accept lets the message go on, tagged
    // mtls=temperror "internal error", with forged headers still removed at
    // end of message. A message whose forged headers cannot be removed (a
    // header callback failed, or the removal did) is deferred in both modes.
    // A failure at connect or HELO applies to every message on the connection.
    Status recover(CallbackStage stage, MtaSession& mta, std::string_view what) noexcept;
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    // The moved-from connection forgets its endpoint, so that only one of the
    // two drops the policy-channel entry when it goes.
    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&&) = delete;

private:
    // Fills in fingerprints learnt on the policy channel, when configured.
    // mta: for the client's address and port when connect gave none; null
    // before end of message, when they are not asked for.
    void add_policy_fingerprints(MtaSession* mta, MessageState& message);
    // Starts certificate discovery once the fingerprint is known.
    void start_discovery(MessageState& message) const;
    // False when the MTA refused a deletion: the message must not be accepted.
    bool remove_forged_headers(MtaSession& mta, MessageState& message) const;
    // End of message for a transaction with message.internal_error set.
    Status finish_after_internal_error(MtaSession& mta, MessageState& message) const;
    Status recover_end_of_message(MtaSession& mta) noexcept;
    [[nodiscard]] bool accepts_internal_errors() const noexcept;
    Evaluation evaluate(MessageState& message) const;
    void log_skip(const MessageState& message, std::string_view why) const;
    // Inserts our Authentication-Results at the top; false (logged) when the
    // MTA refused.
    bool insert_our_header(MtaSession& mta, const MessageState& message, std::string_view value) const;
    // Tells the MTA what to do with the message (reply, header, quarantine).
    Status act(MtaSession& mta, MessageState& message, const Verdict& verdict, Action action) const;
    void log_verdict(const MessageState& message, const Evaluation& evaluation, Action action) const;

    std::shared_ptr<const Runtime> runtime_;
    bool headers_need_no_reply_;
    std::string client_address_ = "unknown";
    std::optional<IpAddress> client_;   // the only address certificate discovery connects to
    std::optional<Endpoint> endpoint_;  // for the policy channel
    StoreClock::time_point connected_at_ = StoreClock::now();
    std::string helo_;
    bool helo_under_tls_ = false;     // said after STARTTLS
    bool connection_failed_ = false;  // the connect or HELO callback failed
    std::optional<MessageState> message_;
};

}  // namespace mtls::milter
