// The one place where an exception from the milter logic stops: every
// libmilter callback (milter/libmilter_glue.cc) runs its body through
// guarded(), so nothing unwinds into libmilter's C frames, and what the MTA
// is told then is Connection::recover's decision (on-internal-error), which
// the tests reach without libmilter (tests/milter/test_internal_error.cc).
#pragma once

#include <exception>
#include <utility>

#include "connection.h"
#include "mta_session.h"

namespace mtls::milter {

// Runs body() (returning Status) for one callback at stage on connection
// (a Connection, or the DMARC stage's DmarcConnection). mta is the
// callback's session, which recovery may still need (to remove forged
// headers at end of message).
template <typename AnyConnection, typename Body>
Status guarded(AnyConnection& connection, MtaSession& mta, CallbackStage stage, Body&& body) noexcept {
    try {
        return std::forward<Body>(body)();
    } catch (const std::exception& error) {
        return connection.recover(stage, mta, error.what());
    } catch (...) {
        return connection.recover(stage, mta, "unknown exception");
    }
}

}  // namespace mtls::milter
