// Small file helpers for the node's cache directory.
#pragma once

#include <string>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::node {

// Writes `data` to `path` so that a crash leaves either the old file or the new one: a temporary
// file "<path>.tmp" in the same directory, fsync, rename, fsync of the directory.
// The error names the file and the system call that failed; on failure nothing is left behind and
// `error_number` (if given) receives the errno (ENOSPC, EDQUOT: the disk is full).
loa::Status write_file_atomic(const std::string& path, protocol::ByteView data,
                              int* error_number = nullptr);

// Reads a whole file of at most `max_size` bytes; the error names the file.
Result<protocol::Bytes> read_file(const std::string& path, std::size_t max_size);

// Creates `dir` and its parents if absent; the error names the directory.
loa::Status make_directories(const std::string& dir);

}  // namespace loa::node
