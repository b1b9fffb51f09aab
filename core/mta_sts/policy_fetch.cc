#include "mta_sts/policy_fetch.h"

#include <curl/curl.h>

#include <fmt/format.h>

#include <memory>

#include "base/free_with.h"
#include "dns/domain_name.h"
#include "mta_sts/sts_policy.h"
#include "mtls/verdict_record.h"

namespace mtls {
namespace {

using CurlHandle = std::unique_ptr<CURL, FreeWith<&curl_easy_cleanup>>;
using CurlList = std::unique_ptr<curl_slist, FreeWith<&curl_slist_free_all>>;

struct Transfer {
    PolicyResponse response;
};

// libcurl's write callback: a C frame, so nothing may unwind out of it.
// Returning less than given aborts the transfer (CURLE_WRITE_ERROR).
std::size_t on_body(char* data, std::size_t size, std::size_t count, void* user) noexcept {
    auto& transfer = *static_cast<Transfer*>(user);
    const std::size_t bytes = size * count;
    try {
        if (transfer.response.body.size() + bytes > kMaxStsPolicyBytes) {
            transfer.response.truncated = true;
            return 0;
        }
        transfer.response.body.append(data, bytes);
        return bytes;
    } catch (...) {
        return 0;
    }
}

std::string_view trim(std::string_view text) {
    while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
        text.remove_prefix(1);
    }
    while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
        text.remove_suffix(1);
    }
    return text;
}

// "host:port:addr1,addr2" for CURLOPT_RESOLVE; IPv6 addresses in brackets.
std::string resolve_entry(std::string_view host, std::uint16_t port, std::span<const std::string> addresses) {
    std::string entry = fmt::format("{}:{}:", host, port);
    for (std::size_t i = 0; i < addresses.size(); ++i) {
        if (i > 0) {
            entry += ',';
        }
        const auto& address = addresses[i];
        entry += address.find(':') == std::string::npos ? address : "[" + address + "]";
    }
    return entry;
}

template <typename T>
void set(CURL* curl, CURLoption option, T value) {
    if (const auto code = curl_easy_setopt(curl, option, value); code != CURLE_OK) {
        throw std::runtime_error(fmt::format("libcurl option {}: {}", static_cast<int>(option),
                                             curl_easy_strerror(code)));
    }
}

}  // namespace

Expected<std::string> accept_policy_response(const PolicyResponse& response) {
    if (response.truncated || response.body.size() > kMaxStsPolicyBytes) {
        return Error{fmt::format("policy larger than {} bytes (RFC 8461, section 3.3)", kMaxStsPolicyBytes)};
    }
    if (response.status != 200) {
        const bool redirect = response.status >= 300 && response.status < 400;
        return Error{fmt::format("HTTP status {}{}", response.status,
                                 redirect ? " (redirects are not followed: RFC 8461, section 3.3)" : "")};
    }
    // "text/plain", any case, parameters (charset) allowed.
    const auto media_type = trim(std::string_view(response.content_type).substr(
        0, std::min(response.content_type.find(';'), response.content_type.size())));
    if (!ascii_iequals(media_type, "text/plain")) {
        return Error{fmt::format("media type \"{}\", not text/plain (RFC 8461, section 3.2)",
                                 escape_for_log(response.content_type))};
    }
    return response.body;
}

void init_policy_fetch() {
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

Expected<std::string> fetch_sts_policy(std::string_view domain, std::span<const std::string> addresses,
                                       const PolicyFetchSettings& settings) {
    if (addresses.empty()) {
        return Error{fmt::format("mta-sts.{} has no usable address", domain)};
    }
    const auto host = fmt::format("mta-sts.{}", domain);
    const auto url = fmt::format("https://{}/.well-known/mta-sts.txt", host);
    CurlHandle curl(curl_easy_init());
    if (!curl) {
        return Error{"libcurl: cannot create a handle"};
    }
    CurlList pinned(curl_slist_append(nullptr, resolve_entry(host, settings.port, addresses).c_str()));
    if (!pinned) {
        return Error{"libcurl: out of memory"};
    }
    Transfer transfer;
    CURL* handle = curl.get();
    set(handle, CURLOPT_URL, url.c_str());
    set(handle, CURLOPT_PORT, static_cast<long>(settings.port));
    set(handle, CURLOPT_RESOLVE, pinned.get());
    set(handle, CURLOPT_PROTOCOLS_STR, "https");
    set(handle, CURLOPT_FOLLOWLOCATION, 0L);
    set(handle, CURLOPT_PROXY, "");  // no proxy from the environment: we pin the address
    set(handle, CURLOPT_NOSIGNAL, 1L);
    set(handle, CURLOPT_TIMEOUT_MS, static_cast<long>(settings.timeout.count()));
    set(handle, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(settings.timeout.count()));
    set(handle, CURLOPT_SSL_VERIFYPEER, 1L);
    set(handle, CURLOPT_SSL_VERIFYHOST, 2L);
    set(handle, CURLOPT_SSLVERSION, static_cast<long>(CURL_SSLVERSION_TLSv1_2));
    set(handle, CURLOPT_MAXFILESIZE_LARGE, static_cast<curl_off_t>(kMaxStsPolicyBytes));
    set(handle, CURLOPT_USERAGENT, "mtls-tlspolicy/" MTLS_VERSION);
    set(handle, CURLOPT_WRITEFUNCTION, &on_body);
    set(handle, CURLOPT_WRITEDATA, static_cast<void*>(&transfer));
    if (!settings.ca_file.empty()) {
        set(handle, CURLOPT_CAINFO, settings.ca_file.c_str());
    }
    if (!settings.ca_path.empty()) {
        set(handle, CURLOPT_CAPATH, settings.ca_path.c_str());
    }
    const auto code = curl_easy_perform(handle);
    if (code == CURLE_FILESIZE_EXCEEDED || (code == CURLE_WRITE_ERROR && transfer.response.truncated)) {
        transfer.response.truncated = true;
    } else if (code != CURLE_OK) {
        return Error{fmt::format("{}: {}", url, curl_easy_strerror(code))};
    }
    curl_easy_getinfo(handle, CURLINFO_RESPONSE_CODE, &transfer.response.status);
    const char* content_type = nullptr;
    if (curl_easy_getinfo(handle, CURLINFO_CONTENT_TYPE, &content_type) == CURLE_OK && content_type != nullptr) {
        transfer.response.content_type = content_type;
    }
    auto body = accept_policy_response(transfer.response);
    if (!body) {
        return Error{fmt::format("{}: {}", url, body.error())};
    }
    return body;
}

}  // namespace mtls
