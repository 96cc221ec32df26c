// Small file helpers: atomic and durable writes, bounded reads, directories.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "loa/protocol/messages.hpp"
#include "loa/protocol/result.hpp"

namespace loa::runtime {

// Writes `data` to `path` so that a crash leaves either the old file or the new one: a temporary
// file "<path>.tmp" in the same directory, fsync, rename, fsync of the directory.
// The error names the file and the system call that failed; on failure nothing is left behind and
// `error_number` (if given) receives the errno (ENOSPC, EDQUOT: the disk is full).
loa::Status write_file_atomic(const std::string& path, protocol::ByteView data,
                              int* error_number = nullptr);

// The same with the bytes made as they are written: `produce` calls `write` any number of times
// and fails with whatever went wrong (a failed write's error is handed back by it). Before the
// rename, `before_rename` (if given) sees the file's size and may refuse it. Nothing is left
// behind on any failure.
using WriteFn = std::function<loa::Status(protocol::ByteView bytes)>;
loa::Status write_file_atomic(
    const std::string& path, const std::function<loa::Status(const WriteFn& write)>& produce,
    int* error_number = nullptr,
    const std::function<loa::Status(std::uint64_t size)>& before_rename = {});

// A source for protocol::OggOpusReader over a file, read a block at a time; the file stays open
// as long as the source lives. The error names the file.
Result<std::function<Result<std::size_t>(std::uint8_t*, std::size_t)>> file_source(
    const std::string& path);

// Reads a whole file of at most `max_size` bytes; the error names the file.
Result<protocol::Bytes> read_file(const std::string& path, std::size_t max_size);

// Creates `dir` and its parents if absent; the error names the directory.
loa::Status make_directories(const std::string& dir);

}  // namespace loa::runtime
