// Key files: hex text, one key per file. Secret key files are written with mode 0600.
#pragma once

#include <string>

#include "loa/protocol/envelope.hpp"

namespace loa::runtime {

// Loads the key pair at `path` (64-byte secret key in hex); creates and writes one if the file
// does not exist. The error names the file and what is wrong with it.
Result<protocol::KeyPair> load_or_create_key_pair(const std::string& path);
// Loads a 32-byte public key in hex (whitespace around it ignored).
Result<protocol::PublicKey> load_public_key(const std::string& path);
Status write_public_key(const std::string& path, const protocol::PublicKey& key);

std::string to_hex(protocol::ByteView bytes);
// Decodes exactly `size` bytes of hex; fails on wrong length or a non-hex character.
Result<protocol::Bytes> from_hex(std::string_view hex, std::size_t size);

}  // namespace loa::runtime
