#include "dmarc_connection.h"

#include <fmt/format.h>

#include "dmarc/author_domain.h"
#include "dmarc/dmarc_record.h"
#include "dmarc/result_text.h"
#include "dns/domain_name.h"
#include "internal_error_log.h"
#include "mail/authentication_results.h"
#include "mail/identity.h"
#include "mtls/verdict_record.h"

namespace mtls::milter {
namespace {

// Header fields longer than this are not kept: a From beyond it makes the
// message permerror (truncating could hide a second domain); further
// Authentication-Results are ignored, as are those beyond the count.
constexpr std::size_t kMaxHeaderLength = 16384;
constexpr std::size_t kMaxResultsHeaders = 64;

bool iequals(std::string_view a, std::string_view b) {
    return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
               return std::tolower(static_cast<unsigned char>(x)) == std::tolower(static_cast<unsigned char>(y));
           });
}

}  // namespace

DmarcConnection::DmarcConnection(std::shared_ptr<const Runtime> runtime, dmarc::DmarcMetrics* metrics,
                                 bool headers_need_no_reply)
    : runtime_(std::move(runtime)), metrics_(metrics), headers_need_no_reply_(headers_need_no_reply) {}

Status DmarcConnection::connect(std::optional<IpAddress> client, std::uint16_t /*client_port*/) {
    if (client) {
        client_address_ = client->to_string();
        if (runtime_->settings.ignore_hosts.contains(*client)) {
            return Status::accept;  // as stage 1: the whole connection, untouched
        }
    }
    return Status::proceed;
}

Status DmarcConnection::helo(MtaSession& /*mta*/, std::string_view name) {
    auto canonical = canonical_host_name(name);
    helo_ = canonical ? std::move(canonical).value() : std::string();
    return Status::proceed;
}

Status DmarcConnection::mail_from(MtaSession& mta, std::string_view reverse_path) {
    message_.reset();
    DmarcMessage& message = message_.emplace();
    message.queue_id = mta.macro("i").value_or("");
    const auto auth = mta.macro("{auth_authen}");
    if (auth && !auth->empty() && runtime_->settings.skip_authenticated) {
        message.skipped = true;
        return Status::proceed;
    }
    const auto path = parse_reverse_path(reverse_path);
    message.null_sender = path.null_sender;
    if (path.null_sender) {
        message.helo_domain = helo_;
    } else if (path.problem.empty()) {
        message.envelope_domain = path.domain;
    }
    message.lookups.emplace(*runtime_->resolver, runtime_->settings.authenticator.dns_timeout);
    return Status::proceed;
}

Status DmarcConnection::header(std::string_view name, std::string_view value) {
    const Status answer = headers_need_no_reply_ ? Status::no_reply : Status::proceed;
    if (!message_ || message_->skipped) {
        return answer;
    }
    DmarcMessage& message = *message_;
    if (iequals(name, "From")) {
        if (value.size() > kMaxHeaderLength) {
            message.header_too_long = true;
            return answer;
        }
        message.from_bodies.emplace_back(value);
        if (message.from_bodies.size() == 1 && message.lookups) {
            // Start the walk now, so that its queries run while the rest of
            // the message arrives; end of message collects them.
            const std::string_view body = message.from_bodies.front();
            if (const auto domain = dmarc::author_domain(std::span(&body, 1))) {
                message.lookups->start_walk(*domain);
            }
        }
    } else if (iequals(name, kAuthenticationResults) && value.size() <= kMaxHeaderLength &&
               message.results_bodies.size() < kMaxResultsHeaders) {
        message.results_bodies.emplace_back(value);
    }
    return answer;
}

Status DmarcConnection::end_of_message(MtaSession& mta) {
    if (!message_) {
        return Status::proceed;
    }
    DmarcMessage& message = *message_;
    if (auto queue_id = mta.macro("i"); queue_id && !queue_id->empty()) {
        message.queue_id = std::move(*queue_id);
    }
    if (message.failed) {
        const Status status = recover(CallbackStage::end_of_message, mta, "an earlier callback failed");
        message_.reset();
        return status;
    }
    if (message.skipped || !message.lookups) {
        if (metrics_ != nullptr) {
            metrics_->count_skipped();
        }
        runtime_->logger->log(
            Severity::info,
            fmt::format("stage=dmarc queue_id={} client={} not evaluated: SMTP-AUTH client",
                        escape_for_log(message.queue_id.empty() ? "-" : message.queue_id), client_address_));
        message_.reset();
        return Status::proceed;
    }
    const auto& settings = runtime_->settings;
    dmarc::EvaluationInput input;
    std::vector<std::string_view> from_views(message.from_bodies.begin(), message.from_bodies.end());
    if (message.header_too_long) {
        input.author_domain = Error{"From field too long"};
    } else {
        input.author_domain = dmarc::author_domain(from_views);
    }
    const std::vector<std::string_view> results_views(message.results_bodies.begin(), message.results_bodies.end());
    const auto trusted = trusted_authserv_ids(settings);
    input.identifiers =
        dmarc::authenticated_identifiers(results_views, trusted, message.envelope_domain, message.helo_domain);
    message.dkim_results = input.identifiers.dkim_results;
    message.spf_result = input.identifiers.spf_result;
    if (input.identifiers.mtls && input.identifiers.mtls->from_helo &&
        (!settings.dmarc.mtls_helo || !message.envelope_domain.empty())) {
        // smtp.helo counts only for the null sender, and only when allowed.
        input.identifiers.mtls.reset();
    }
    input.mode = settings.dmarc.mtls;
    const auto evaluation = dmarc::evaluate_with_lookups(*message.lookups, std::move(input));
    const Status status = decide(mta, message, evaluation);
    message_.reset();
    return status;
}

Status DmarcConnection::decide(MtaSession& mta, DmarcMessage& message, const dmarc::Evaluation& evaluation) const {
    const auto& settings = runtime_->settings;
    if (metrics_ != nullptr) {
        metrics_->count_message(evaluation);
    }
    if (evaluation.result == dmarc::Result::temperror && settings.dmarc.tempfail_on_temperror) {
        mta.set_reply("451", "4.7.1", "Temporary DNS failure evaluating the From domain's DMARC policy");
        log_result(message, evaluation, "tempfail");
        return Status::tempfail;
    }
    const auto requested = dmarc::requested_disposition(evaluation);
    auto taken = dmarc::Policy::none;
    if (settings.dmarc.enforce && evaluation.result == dmarc::Result::fail) {
        taken = requested;
    }
    if (taken == dmarc::Policy::reject) {
        mta.set_reply("550", "5.7.1", fmt::format("Rejected by the DMARC policy of {}", evaluation.header_from));
        log_result(message, evaluation, "reject");
        return Status::reject;
    }
    const auto value = fold_authentication_results(settings.authserv_id, dmarc::result_words(evaluation, taken));
    // Index 0, above everything the MTA and the earlier milters added.
    if (!mta.insert_header(0, kAuthenticationResults, value)) {
        runtime_->logger->log(Severity::error,
                              fmt::format("stage=dmarc queue_id={} could not add Authentication-Results",
                                          escape_for_log(message.queue_id)));
    }
    if (taken == dmarc::Policy::quarantine) {
        mta.quarantine(fmt::format("dmarc=fail policy.dmarc=quarantine header.from={}", evaluation.header_from));
    }
    log_result(message, evaluation, to_string(taken));
    return Status::proceed;
}

void DmarcConnection::log_result(const DmarcMessage& message, const dmarc::Evaluation& evaluation,
                                 std::string_view disposition) const {
    dmarc::DmarcRecord record;
    record.queue_id = message.queue_id;
    record.client_address = client_address_;
    record.envelope_from = message.envelope_domain;
    record.null_sender = message.null_sender;
    record.evaluation = evaluation;
    record.dkim_results = message.dkim_results;
    record.spf_result = message.spf_result;
    record.disposition = std::string(disposition);
    record.queries = message.lookups ? message.lookups->queries() : 0;
    record.time = std::chrono::system_clock::now();
    runtime_->logger->log(Severity::info,
                          runtime_->settings.log_json ? dmarc::format_json(record) : dmarc::format_text(record));
}

Status DmarcConnection::recover(CallbackStage stage, MtaSession& /*mta*/, std::string_view what) noexcept {
    const std::string_view queue_id = message_ ? std::string_view(message_->queue_id) : std::string_view();
    log_internal_error(runtime_->logger.get(), name_of(stage), queue_id, what);
    const bool accept = runtime_->settings.policy.on_internal_error == InternalErrorAction::accept;
    switch (stage) {
        case CallbackStage::header:
            if (message_) {
                message_->failed = true;
            }
            return headers_need_no_reply_ ? Status::no_reply : Status::tempfail;
        case CallbackStage::mail:
            if (message_) {
                message_->failed = true;
            }
            return accept ? Status::proceed : Status::tempfail;
        case CallbackStage::end_of_message: message_.reset(); return accept ? Status::proceed : Status::tempfail;
        case CallbackStage::abort: message_.reset(); return Status::proceed;
        case CallbackStage::close: return Status::proceed;
        case CallbackStage::connect:
        case CallbackStage::helo: return accept ? Status::proceed : Status::tempfail;
    }
    return Status::tempfail;
}

}  // namespace mtls::milter
