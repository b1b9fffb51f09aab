#include "connection.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

#include "dns/domain_name.h"
#include "internal_error_log.h"
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
      client_(other.client_),
      endpoint_(std::exchange(other.endpoint_, std::nullopt)),
      connected_at_(other.connected_at_),
      helo_(std::move(other.helo_)),
      helo_under_tls_(other.helo_under_tls_),
      connection_failed_(other.connection_failed_),
      message_(std::move(other.message_)) {}

Connection::~Connection() {
    close();
}

void Connection::close() noexcept {
    // FingerprintStore::forget takes a mutex, and a stale entry only waits
    // out policy-lifetime: log and go on.
    Logger* const logger = runtime_ ? runtime_->logger.get() : nullptr;
    try {
        if (endpoint_ && runtime_ && runtime_->sessions) {
            runtime_->sessions->forget(*endpoint_, connected_at_);
        }
    } catch (const std::exception& error) {
        log_internal_error(logger, name_of(CallbackStage::close), "", error.what());
    } catch (...) {
        log_internal_error(logger, name_of(CallbackStage::close), "", "unknown exception");
    }
    endpoint_.reset();
}

Status Connection::connect(std::optional<IpAddress> client, std::uint16_t client_port) {
    connected_at_ = StoreClock::now();
    client_ = client;
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
    if (connection_failed_) {
        // What connect or HELO should have learnt is missing (the client's
        // address for ignore-hosts, the HELO name): no verdict can be trusted.
        message.internal_error = true;
        message.helo = helo_;
        return accepts_internal_errors() ? Status::proceed : Status::tempfail;
    }
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
    message.check = runtime_->authenticator.begin(identity_from_envelope(reverse_path, message.helo), client_);
    start_discovery(message);  // Sendmail's {cert_fp} is known now
    return Status::proceed;
}

Status Connection::header(std::string_view name, std::string_view value) {
    if (message_ && ascii_iequals(name, kAuthenticationResults)) {
        ++message_->header_count;
        // Every id of this site, not only ours: the DMARC stage believes the
        // headers with these ids that the milters after this one add.
        const auto& others = runtime_->settings.dmarc.other_authserv_ids;
        if (claims_authserv_id(value, runtime_->settings.authserv_id) ||
            std::any_of(others.begin(), others.end(),
                        [value](const std::string& id) { return claims_authserv_id(value, id); })) {
            message_->forged_indexes.push_back(message_->header_count);
        }
    }
    if (message_ && !message_->discovery_looked && message_->check && runtime_->discovery) {
        // Postfix asked the policy channel at RCPT: the fingerprint is known
        // by the first header, and the probe runs while the body arrives.
        message_->discovery_looked = true;
        add_policy_fingerprints(nullptr, *message_);
        start_discovery(*message_);
    }
    return headers_need_no_reply_ ? Status::no_reply : Status::proceed;
}

bool Connection::remove_forged_headers(MtaSession& mta, MessageState& message) const {
    // Highest index first: on Postfix each deletion renumbers the later ones.
    std::sort(message.forged_indexes.rbegin(), message.forged_indexes.rend());
    for (const int index : message.forged_indexes) {
        if (!mta.delete_header(kAuthenticationResults, index)) {
            runtime_->logger->log(Severity::error,
                                  fmt::format("queue_id={} could not delete forged Authentication-Results #{}; "
                                              "deferring the message",
                                              escape_for_log(message.queue_id), index));
            return false;
        }
    }
    message.forged_removed = true;
    runtime_->metrics->count_forged_removed(static_cast<int>(message.forged_indexes.size()));
    return true;
}

void Connection::start_discovery(MessageState& message) const {
    if (runtime_->discovery && message.check && runtime_->authenticator.discover(*message.check, message.evidence)) {
        runtime_->metrics->count_discovery_probe();
    }
}

void Connection::add_policy_fingerprints(MtaSession* mta, MessageState& message) {
    const auto& sessions = runtime_->sessions;
    if (!sessions || !message.evidence.fingerprints.empty() || message.evidence.status == CertificateStatus::no_tls ||
        message.evidence.status == CertificateStatus::no_certificate) {
        return;
    }
    if (!endpoint_ && mta == nullptr) {
        return;  // end of message asks the MTA
    }
    if (!endpoint_) {
        const auto address = mta->macro("{client_addr}");
        const auto port = mta->macro("{client_port}");
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
    if (message.internal_error) {
        const Status status = finish_after_internal_error(mta, message);
        message_.reset();
        return status;
    }
    if (!remove_forged_headers(mta, message)) {
        message_.reset();
        return Status::tempfail;  // never accept a message with a forged header
    }
    if (!message.check) {
        runtime_->metrics->count_skipped();
        log_skip(message, "SMTP-AUTH client");
        message_.reset();
        return Status::proceed;
    }

    add_policy_fingerprints(&mta, message);
    const Evaluation evaluation = evaluate(message);
    if (evaluation.discovery.probe_started) {
        runtime_->metrics->count_discovery_probe();
    }
    if (!evaluation.discovery.outcome.empty()) {
        runtime_->metrics->count_discovery(evaluation.discovery.outcome, evaluation.discovery.from_cache);
    }
    const Action action = decide_action(evaluation.verdict.result, runtime_->settings.policy);
    const Status status = act(mta, message, evaluation.verdict, action);
    message.decided = status;
    runtime_->metrics->count_message(evaluation.verdict.result, action);
    if (evaluation.answer.elapsed.count() > 0) {
        runtime_->metrics->observe_lookup(evaluation.answer.elapsed);
    }
    log_verdict(message, evaluation, action);
    message_.reset();
    return status;
}

bool Connection::insert_our_header(MtaSession& mta, const MessageState& message, std::string_view value) const {
    if (mta.insert_header(0, kAuthenticationResults, value)) {
        return true;
    }
    runtime_->logger->log(Severity::error, fmt::format("queue_id={} could not add Authentication-Results",
                                                       escape_for_log(message.queue_id)));
    return false;
}

Status Connection::act(MtaSession& mta, MessageState& message, const Verdict& verdict, Action action) const {
    if (action == Action::reject || action == Action::tempfail) {
        const auto reply = reply_for(action, verdict.result);
        mta.set_reply(reply.code, reply.enhanced, reply.text);
        return action == Action::reject ? Status::reject : Status::tempfail;
    }
    const auto value =
        format_authentication_results(runtime_->settings.authserv_id, message.check->identity(), verdict);
    // Index 0: above the MTA's own Received:, where readers look first.
    message.tagged = insert_our_header(mta, message, value);
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
    record.discovery = evaluation.discovery;
    record.time = std::chrono::system_clock::now();
    runtime_->logger->log(Severity::info, runtime_->settings.log_json ? format_json(record) : format_text(record));
}

void Connection::abort() {
    message_.reset();
}

bool Connection::accepts_internal_errors() const noexcept {
    return runtime_->settings.policy.on_internal_error == InternalErrorAction::accept;
}

Status Connection::finish_after_internal_error(MtaSession& mta, MessageState& message) const {
    if (!accepts_internal_errors() || message.forged_unknown) {
        return Status::tempfail;
    }
    if (!message.forged_removed && !remove_forged_headers(mta, message)) {
        return Status::tempfail;
    }
    // The same result as an exception inside the check (evaluate): the
    // message could not be judged, which a retry might change. No lookup
    // was made, so on-temperror does not apply: the operator chose accept.
    Verdict verdict;
    verdict.result = Result::temperror;
    verdict.reason = "internal error";
    const Identity identity =
        message.check ? message.check->identity() : identity_from_envelope(message.raw_reverse_path, message.helo);
    if (!message.tagged) {
        try {
            message.tagged = insert_our_header(
                mta, message, format_authentication_results(runtime_->settings.authserv_id, identity, verdict));
        } catch (const std::exception& error) {
            // The forged headers are gone: without ours the message is still
            // safe to accept, which is what the operator asked for.
            log_internal_error(runtime_->logger.get(), name_of(CallbackStage::end_of_message), message.queue_id,
                               error.what());
        }
    }
    runtime_->logger->log(
        Severity::warning,
        fmt::format("queue_id={} client={} accepted after an internal error "
                    "(on-internal-error=accept): mtls=temperror",
                    escape_for_log(message.queue_id.empty() ? "-" : message.queue_id), client_address_));
    return Status::proceed;
}

Status Connection::recover(CallbackStage stage, MtaSession& mta, std::string_view what) noexcept {
    const std::string_view queue_id = message_ ? std::string_view(message_->queue_id) : std::string_view();
    log_internal_error(runtime_->logger.get(), name_of(stage), queue_id, what);
    const Status refuse = Status::tempfail;
    switch (stage) {
        case CallbackStage::connect:
        case CallbackStage::helo:
            // Under tempfail the MTA defers the whole connection; under
            // accept its messages go on as internal errors (mail_from).
            connection_failed_ = true;
            return accepts_internal_errors() ? Status::proceed : refuse;
        case CallbackStage::mail:
            if (!message_) {
                message_.emplace();  // nothrow (static_assert in connection.h)
            }
            message_->internal_error = true;
            return accepts_internal_errors() ? Status::proceed : refuse;
        case CallbackStage::header:
            // The header that failed may have been a forged one, now unknown.
            if (message_) {
                message_->internal_error = true;
                message_->forged_unknown = true;
            }
            // With SMFIP_NR_HDR no answer is allowed here: end_of_message
            // defers the message instead.
            return headers_need_no_reply_ ? Status::no_reply : refuse;
        case CallbackStage::end_of_message: return recover_end_of_message(mta);
        case CallbackStage::abort: message_.reset(); return Status::proceed;
        case CallbackStage::close: return Status::proceed;  // libmilter ignores the answer
    }
    return refuse;
}

Status Connection::recover_end_of_message(MtaSession& mta) noexcept {
    Status status = Status::tempfail;
    if (message_ && accepts_internal_errors()) {
        MessageState& message = *message_;
        if (message.decided) {
            status = *message.decided;  // acted already; what failed came after
        } else {
            message.internal_error = true;
            try {
                status = finish_after_internal_error(mta, message);
            } catch (const std::exception& error) {
                log_internal_error(runtime_->logger.get(), name_of(CallbackStage::end_of_message), "", error.what());
            } catch (...) {
                log_internal_error(runtime_->logger.get(), name_of(CallbackStage::end_of_message), "",
                                   "unknown exception");
            }
        }
    }
    message_.reset();
    return status;
}

}  // namespace mtls::milter
