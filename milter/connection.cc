#include "connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "dns/domain_name.h"
#include "mail/authentication_results.h"
#include "mtls/action.h"
#include "mtls/verdict_record.h"

namespace mtls::milter {
namespace {

constexpr std::size_t kMaxHeloLength = 1024;

MacroLookup lookup_through(MtaSession& mta) {
    return [&mta](std::string_view name) { return mta.macro(name); };
}

}  // namespace

Connection::Connection(std::shared_ptr<const Runtime> runtime, bool headers_need_no_reply)
    : runtime_(std::move(runtime)), headers_need_no_reply_(headers_need_no_reply) {}

Connection::Connection(Connection&& other) noexcept
    : runtime_(std::move(other.runtime_)),
      headers_need_no_reply_(other.headers_need_no_reply_),
      client_address_(std::move(other.client_address_)),
      endpoint_(std::exchange(other.endpoint_, std::nullopt)),
      connected_at_(other.connected_at_),
      helo_(std::move(other.helo_)),
      helo_under_tls_(other.helo_under_tls_),
      message_(std::move(other.message_)) {}

Connection::~Connection() {
    close();
}

void Connection::close() {
    if (endpoint_ && runtime_ && runtime_->sessions) {
        runtime_->sessions->forget(*endpoint_, connected_at_);
    }
    endpoint_.reset();
}

Status Connection::connect(std::optional<IpAddress> client, std::uint16_t client_port) {
    connected_at_ = StoreClock::now();
    if (client) {
        client_address_ = client->to_string();
        if (client_port != 0) {
            endpoint_ = Endpoint{*client, client_port};
        }
        if (runtime_->settings.ignore_hosts.contains(*client)) {
            return Status::accept;  // the whole connection: no check, no header change
        }
    }
    return Status::proceed;
}

Status Connection::helo(MtaSession& mta, std::string_view name) {
    helo_.assign(name.substr(0, kMaxHeloLength));
    helo_under_tls_ = evidence_from_macros(lookup_through(mta)).status != CertificateStatus::no_tls;
    return Status::proceed;
}

Status Connection::mail_from(MtaSession& mta, std::string_view reverse_path) {
    message_.reset();  // a new transaction, whether or not the MTA aborted the last one
    MessageState& message = message_.emplace();
    message.raw_reverse_path.assign(reverse_path.substr(0, 1024));
    message.queue_id = mta.macro("i").value_or("");
    const auto auth = mta.macro("{auth_authen}");
    message.authenticated = auth && !auth->empty();
    if (message.authenticated && runtime_->settings.skip_authenticated) {
        return Status::proceed;  // no verdict, but forged headers still go
    }
    message.evidence = evidence_from_macros(lookup_through(mta));
    // RFC 3207, section 4.2: after STARTTLS the server forgets what the client
    // said before it. A client that sends MAIL without a new EHLO has named
    // no host inside this TLS session.
    const bool helo_predates_tls = message.evidence.status != CertificateStatus::no_tls && !helo_under_tls_;
    message.helo = helo_predates_tls ? std::string() : helo_;
    message.check = runtime_->authenticator.begin(identity_from_envelope(reverse_path, message.helo));
    return Status::proceed;
}

Status Connection::header(std::string_view name, std::string_view value) {
    if (message_ && ascii_iequals(name, kAuthenticationResults)) {
        ++message_->header_count;
        if (claims_authserv_id(value, runtime_->settings.authserv_id)) {
            message_->forged_indexes.push_back(message_->header_count);
        }
    }
    return headers_need_no_reply_ ? Status::no_reply : Status::proceed;
}

void Connection::remove_forged_headers(MtaSession& mta, MessageState& message) const {
    // Highest index first: on Postfix each deletion renumbers the later ones.
    std::sort(message.forged_indexes.rbegin(), message.forged_indexes.rend());
    for (const int index : message.forged_indexes) {
        if (!mta.delete_header(kAuthenticationResults, index)) {
            runtime_->logger->log(Severity::warning,
                                  fmt::format("queue_id={} could not delete forged Authentication-Results #{}",
                                              escape_for_log(message.queue_id), index));
        }
    }
}

void Connection::add_policy_fingerprints(MtaSession& mta, MessageState& message) {
    const auto& sessions = runtime_->sessions;
    if (!sessions || !message.evidence.fingerprints.empty() || message.evidence.status == CertificateStatus::no_tls ||
        message.evidence.status == CertificateStatus::no_certificate) {
        return;
    }
    if (!endpoint_) {
        const auto address = mta.macro("{client_addr}");
        const auto port = mta.macro("{client_port}");
        if (address && port) {
            endpoint_ = Endpoint::parse(*address, *port);
        }
    }
    if (!endpoint_) {
        message.policy_channel = "none";
        runtime_->logger->log(Severity::warning,
                              fmt::format("queue_id={} client={} policy channel: the MTA named no client port; "
                                          "fingerprints cannot be matched to this connection",
                                          escape_for_log(message.queue_id), client_address_));
        return;
    }
    // No record is normal for a client without a certificate; the verdict's
    // log line says which it was, so that a missing check_policy_service
    // shows up in the logs as "policy=none" on every message.
    if (auto fingerprints = sessions->find(*endpoint_, connected_at_, StoreClock::now())) {
        message.evidence.fingerprints = *fingerprints;
        message.policy_channel = "matched";
    } else {
        message.policy_channel = "none";
    }
}

Evaluation Connection::evaluate(MessageState& message) const {
    try {
        return runtime_->authenticator.finish(*message.check, message.evidence);
    } catch (const std::exception& error) {
        runtime_->logger->log(Severity::error,
                              fmt::format("queue_id={} internal error: {}", escape_for_log(message.queue_id),
                                          escape_for_log(error.what())));
    }
    Evaluation evaluation;
    evaluation.verdict.result = Result::temperror;
    evaluation.verdict.reason = "internal error";
    return evaluation;
}

void Connection::log_skip(const MessageState& message, std::string_view why) const {
    runtime_->logger->log(Severity::info, fmt::format("queue_id={} client={} skipped: {}",
                                                      escape_for_log(message.queue_id.empty() ? "-" : message.queue_id),
                                                      client_address_, why));
}

Status Connection::end_of_message(MtaSession& mta) {
    if (!message_) {
        return Status::proceed;  // no MAIL FROM seen: nothing to judge
    }
    MessageState& message = *message_;
    if (auto queue_id = mta.macro("i"); queue_id && !queue_id->empty()) {
        message.queue_id = std::move(*queue_id);
    }
    remove_forged_headers(mta, message);
    runtime_->metrics->count_forged_removed(static_cast<int>(message.forged_indexes.size()));
    if (!message.check) {
        runtime_->metrics->count_skipped();
        log_skip(message, "SMTP-AUTH client");
        message_.reset();
        return Status::proceed;
    }

    add_policy_fingerprints(mta, message);
    const Evaluation evaluation = evaluate(message);
    const Action action = decide_action(evaluation.verdict.result, runtime_->settings.policy);
    const Status status = act(mta, message, evaluation.verdict, action);
    runtime_->metrics->count_message(evaluation.verdict.result, action);
    if (evaluation.answer.elapsed.count() > 0) {
        runtime_->metrics->observe_lookup(evaluation.answer.elapsed);
    }
    log_verdict(message, evaluation, action);
    message_.reset();
    return status;
}

Status Connection::act(MtaSession& mta, const MessageState& message, const Verdict& verdict, Action action) const {
    if (action == Action::reject || action == Action::tempfail) {
        const auto reply = reply_for(action, verdict.result);
        mta.set_reply(reply.code, reply.enhanced, reply.text);
        return action == Action::reject ? Status::reject : Status::tempfail;
    }
    const auto value =
        format_authentication_results(runtime_->settings.authserv_id, message.check->identity(), verdict);
    // Index 0: above the MTA's own Received:, where readers look first.
    if (!mta.insert_header(0, kAuthenticationResults, value)) {
        runtime_->logger->log(Severity::error, fmt::format("queue_id={} could not add Authentication-Results",
                                                           escape_for_log(message.queue_id)));
    }
    if (action == Action::quarantine) {
        mta.quarantine(fmt::format("mtls={}: {}", to_string(verdict.result), verdict.reason));
    }
    return Status::proceed;
}

void Connection::log_verdict(const MessageState& message, const Evaluation& evaluation, Action action) const {
    const Identity& identity = message.check->identity();
    VerdictRecord record;
    record.queue_id = message.queue_id;
    record.client_address = client_address_;
    record.identity = identity;
    record.raw_identity = identity.kind == IdentityKind::helo ? message.helo : message.raw_reverse_path;
    record.evidence = message.evidence;
    record.verdict = evaluation.verdict;
    record.action = std::string(to_string(action));
    // For an unusable identity there was no lookup: say what was wrong instead.
    record.dns_detail = identity.usable() ? evaluation.answer.detail : identity.problem;
    record.lookup_time = evaluation.answer.elapsed;
    record.policy_channel = message.policy_channel;
    record.time = std::chrono::system_clock::now();
    runtime_->logger->log(Severity::info, runtime_->settings.log_json ? format_json(record) : format_text(record));
}

void Connection::abort() {
    message_.reset();
}

}  // namespace mtls::milter
