// A value or the reason there is none. std::expected arrives in C++23; this is
// the small subset the core needs, so that parsers of attacker-controlled
// input report "why not" without exceptions.
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace mtls {

struct Error {
    std::string reason;
};

template <typename T>
class Expected {
public:
    Expected(T value) : state_(std::in_place_index<0>, std::move(value)) {}      // NOLINT(google-explicit-constructor)
    Expected(Error error) : state_(std::in_place_index<1>, std::move(error)) {}  // NOLINT(google-explicit-constructor)

    [[nodiscard]] bool has_value() const noexcept { return state_.index() == 0; }
    explicit operator bool() const noexcept { return has_value(); }

    [[nodiscard]] const T& value() const& { return std::get<0>(state_); }
    [[nodiscard]] T& value() & { return std::get<0>(state_); }
    [[nodiscard]] T&& value() && { return std::get<0>(std::move(state_)); }
    const T& operator*() const& { return value(); }
    const T* operator->() const { return &value(); }

    [[nodiscard]] const std::string& error() const { return std::get<1>(state_).reason; }

private:
    std::variant<T, Error> state_;
};

}  // namespace mtls
