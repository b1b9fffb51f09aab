// One SMTP connection as the DMARC stage (stage 2) sees it: the From
// domain, the trusted Authentication-Results the milters before it added
// (stage 1's mtls verdict among them), the DMARC evaluation of
// core/dmarc/ and what to do with the result. Pure logic over the
// MtaSession seam, like Connection (milter/connection.h); the libmilter side
// is milter/dmarc_glue.cc.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/ip_address.h"
#include "dmarc/dmarc_metrics.h"
#include "dmarc/walk_lookups.h"
#include "mta_session.h"
#include "runtime.h"

namespace mtls::milter {

// Macros the DMARC stage asks for (smfi_setsymlist): the queue id and
// whether the client logged in.
inline constexpr const char* kDmarcMailMacros = "i {auth_authen}";
inline constexpr const char* kDmarcEndOfMessageMacros = "i";

struct DmarcMessage {
    std::string queue_id;
    std::string envelope_domain;  // the MAIL FROM domain, canonical; empty for the null sender
    bool null_sender = false;
    std::string helo_domain;  // for the null sender: the HELO name, canonical (its SPF identity)
    bool skipped = false;     // an SMTP-AUTH client
    bool failed = false;      // a callback failed: no verdict can be trusted
    std::vector<std::string> from_bodies;
    std::vector<std::string> results_bodies;  // Authentication-Results, in order
    bool header_too_long = false;             // a From over the limit: permerror
    std::optional<dmarc::WalkLookups> lookups;
    // The raw results read at end of message, for the log line.
    std::vector<dmarc::DkimAuthResult> dkim_results;
    std::string spf_result;
};

class DmarcConnection {
public:
    // headers_need_no_reply: the MTA took SMFIP_NR_HDR (as in Connection).
    DmarcConnection(std::shared_ptr<const Runtime> runtime, dmarc::DmarcMetrics* metrics,
                    bool headers_need_no_reply = true);

    // client_port is not used: the same call as Connection's.
    Status connect(std::optional<IpAddress> client, std::uint16_t client_port = 0);
    // The MtaSession is not used: the same call as Connection's.
    Status helo(MtaSession& mta, std::string_view name);
    Status mail_from(MtaSession& mta, std::string_view reverse_path);
    Status header(std::string_view name, std::string_view value);
    Status end_of_message(MtaSession& mta);
    void abort() { message_.reset(); }
    void close() noexcept {}

    // What the callback answers after its body threw (logged): the message
    // cannot be judged, so on-internal-error decides, as in stage 1. The
    // same signature as Connection::recover (milter/callback_guard.h).
    Status recover(CallbackStage stage, MtaSession& mta, std::string_view what) noexcept;

private:
    Status decide(MtaSession& mta, DmarcMessage& message, const dmarc::Evaluation& evaluation) const;
    void log_result(const DmarcMessage& message, const dmarc::Evaluation& evaluation,
                    std::string_view disposition) const;

    std::shared_ptr<const Runtime> runtime_;
    dmarc::DmarcMetrics* metrics_;  // may be null (tests)
    bool headers_need_no_reply_;
    std::string client_address_ = "unknown";
    std::string helo_;  // the last HELO/EHLO name, canonical; "" when not a host name
    std::optional<DmarcMessage> message_;
};

}  // namespace mtls::milter
