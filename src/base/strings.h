// Small string helpers shared by every component. Pure functions, thread-safe.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "base/status.h"

namespace bd {

std::vector<std::string> Split(std::string_view s, char sep);
std::string Join(const std::vector<std::string>& parts, std::string_view sep);
std::string_view TrimSpace(std::string_view s);
std::optional<int64_t> ParseInt(std::string_view s);

// Quotes a string for display in a shell-like way when it contains spaces or quotes.
std::string ShellQuote(std::string_view s);

// OK when `s` is valid UTF-8; otherwise InvalidArgument naming `what` and the byte offset
// (not the bytes: the message must stay printable and JSON-safe).
Status ValidateUtf8(std::string_view what, std::string_view s);
// The same for each string of `list`.
Status ValidateUtf8(std::string_view what, const std::vector<std::string>& list);

// 64 random lowercase hex digits (from getrandom), as container ids use.
std::string RandomHexId();

// A byte count the way docker prints it: "4.26MB", "1.2kB" (SI, `docker images`), or with
// `binary` "1.5MiB" (powers of 1024, `docker stats`).
std::string HumanSize(int64_t bytes, bool binary = false);

// Standard base64 (RFC 4648, with padding), e.g. for bytes that are not UTF-8 in JSON.
std::string Base64Encode(std::string_view data);
// Standard or URL-safe base64, padding optional; nullopt on a character outside the alphabet.
std::optional<std::string> Base64Decode(std::string_view text);

}  // namespace bd
