// ptgen reading a real machine's page tables: dump, translate and diff over physical memory (a
// QEMU dump-guest-memory ELF core, --core, or a raw memory image, --raw), with the Linux-ptdump
// style listing and the W^X check (memdump.cpp).
#pragma once
#include "cli.hpp"

namespace ptgen {

/// Whether the command reads physical memory (--core / --raw) rather than a ptlib image.
inline bool reads_memory(const Args& a) { return a.value("core") || a.value("raw"); }

/// The options dump, translate and diff take when they read physical memory.
inline constexpr const char* kMemoryValues[] = {"core", "raw", "cpu", "markers", "style", "max-visits",
                                                "core-b", "raw-b", "cpu-b", "mair"};
inline constexpr const char* kMemoryFlags[] = {"check-wx", "allow-recursive"};

int cmd_dump_memory(const Args& a);
int cmd_translate_memory(const Args& a);
int cmd_diff_memory(const Args& a);

}  // namespace ptgen
