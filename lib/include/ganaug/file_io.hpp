#pragma once
/// Writing files so that a reader never sees half of one: the bytes go to a temporary file in
/// the same folder, are flushed to the disk, and a rename publishes them. LibTorch-free.

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace ganaug {

/// How durable a write must be.
enum class Durability {
  kAtomic,   ///< temporary file + rename: a crash of this process never leaves a torn file
  kDurable,  ///< also fsync the file before the rename and the folder after it: survives a
             ///< machine crash or power loss too
};

/// Writes `size` bytes to `path` atomically (see Durability). On any failure (no space, no
/// permission, a folder in the way) removes its temporary file, leaves an existing `path`
/// untouched and throws ganaug::Error naming `path` and the system's reason ("No space left on
/// device"). The temporary file is `path` + ".tmp-<pid>" (mode 0644); `path`'s folder must exist.
/// Two threads of one process must not write the same `path` at once (they share the name).
void write_file_atomic(const std::filesystem::path& path, const void* data, size_t size,
                       Durability durability = Durability::kDurable);
/// write_file_atomic() of a byte buffer (an encoded PNG, say).
inline void write_file_atomic(const std::filesystem::path& path,
                              const std::vector<unsigned char>& bytes,
                              Durability durability = Durability::kDurable) {
  write_file_atomic(path, bytes.data(), bytes.size(), durability);
}
/// write_file_atomic() of a text.
void write_text_atomic(const std::filesystem::path& path, const std::string& text,
                       Durability durability = Durability::kDurable);

/// Appends `text` to the file descriptor-backed file `path` (created when missing) and, with
/// kDurable, flushes it to the disk before returning. Throws ganaug::Error naming `path` and the
/// system's reason; a failed append is truncated away so the file keeps its old length.
void append_file(const std::filesystem::path& path, const std::string& text,
                 Durability durability = Durability::kDurable);

/// True when `name` is a temporary file left by write_file_atomic (`*.tmp-<digits>`).
bool is_temporary_file_name(const std::string& name);

/// Removes the temporary files a killed writer left in `folder` and its subfolders (files named
/// as is_temporary_file_name() says); returns how many. Call it when a run (re)starts in a
/// folder no other process writes to. Never throws: a missing or unreadable folder counts 0.
int64_t remove_temporary_files(const std::filesystem::path& folder);

/// The `hash` a new hash_bytes() sequence starts from: ganaug's own offset basis. It is one digit
/// short of FNV-1a's (14695981039346656037), a slip kept on purpose: every checkpoint checksum
/// and data hash written so far starts from it, so ganaug's hashes are FNV-1a's multiply and
/// xor steps from another start (as good a checksum; "fnv1a64" in file formats names that).
constexpr uint64_t kHashSeed = 1469598103934665603ull;
/// A 64-bit FNV-1a hash of `size` bytes, continuing from `hash` (start with kHashSeed); used as
/// a checksum of checkpoints and as the identity of data sets. Not cryptographic.
uint64_t hash_bytes(const void* data, size_t size, uint64_t hash = kHashSeed);
/// `hash` as 16 lowercase hex digits.
std::string hash_hex(uint64_t hash);

/// Whether `inner` is `outer` or lies inside it, comparing canonical paths (symbolic links and
/// `..` resolved as far as the paths exist; relative paths from the working directory). False
/// when either path cannot be resolved. Never throws.
bool path_within(const std::filesystem::path& inner, const std::filesystem::path& outer);

}  // namespace ganaug
