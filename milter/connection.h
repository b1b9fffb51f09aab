// One SMTP connection as the milter sees it, and the message in progress on
// it. Pure logic over the MtaSession seam: no libmilter types here.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "mta_session.h"
#include "mtls/action.h"
#include "mtls/authenticator.h"
#include "runtime.h"

namespace mtls::milter {

// Macros requested per stage with smfi_setsymlist. On Postfix a list set
// here replaces main.cf's for that stage, so the MAIL list repeats Postfix's
// defaults; the TLS macros are asked for at MAIL too because Postfix resets
// the HELO state after STARTTLS (FIELD-NOTES). v tells Sendmail from Postfix
// when there is no {verify} (core/tls/tls_evidence.cc).
inline constexpr const char* kHeloMacros =
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} {cn_issuer} "
    "{cert_fp} v";
inline constexpr const char* kMailMacros =
    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} "
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} {cn_issuer} "
    "{cert_fp} v";
// With the policy channel on, {client_addr} and {client_port} also name the
// connection to it when the connect callback gave no usable address. Asked
// for only then: every macro is work for the MTA on every message.
inline constexpr const char* kMailMacrosWithPolicyChannel =
    "i {auth_type} {auth_authen} {auth_author} {mail_addr} {mail_host} {mail_mailer} "
    "{tls_version} {cipher} {cipher_bits} {cert_subject} {cert_issuer} {verify} {cn_subject} {cn_issuer} "
    "{cert_fp} v {client_addr} {client_port}";
static_assert(std::string_view(kMailMacrosWithPolicyChannel).starts_with(kMailMacros),
              "the policy channel's list only adds to the usual one");
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
};

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
    void close();
    ~Connection();
    Connection(const Connection&) = delete;
    Connection& operator=(const Connection&) = delete;
    // The moved-from connection forgets its endpoint, so that only one of the
    // two drops the policy-channel entry when it goes.
    Connection(Connection&& other) noexcept;
    Connection& operator=(Connection&&) = delete;

private:
    // Fills in fingerprints learnt on the policy channel, when configured.
    void add_policy_fingerprints(MtaSession& mta, MessageState& message);
    void remove_forged_headers(MtaSession& mta, MessageState& message) const;
    Evaluation evaluate(MessageState& message) const;
    void log_skip(const MessageState& message, std::string_view why) const;
    // Tells the MTA what to do with the message (reply, header, quarantine).
    Status act(MtaSession& mta, const MessageState& message, const Verdict& verdict, Action action) const;
    void log_verdict(const MessageState& message, const Evaluation& evaluation, Action action) const;

    std::shared_ptr<const Runtime> runtime_;
    bool headers_need_no_reply_;
    std::string client_address_ = "unknown";
    std::optional<ClientEndpoint> endpoint_;  // for the policy channel
    StoreClock::time_point connected_at_ = StoreClock::now();
    std::string helo_;
    bool helo_under_tls_ = false;  // said after STARTTLS
    std::optional<MessageState> message_;
};

}  // namespace mtls::milter
