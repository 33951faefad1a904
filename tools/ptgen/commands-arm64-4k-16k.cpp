// ptgen's per-format commands (commands.hpp), compiled here for
// the arm64 4 KiB and 16 KiB formats (each with its TTBR1 counterpart).
#include "commands.hpp"

namespace ptgen {
template int run_format<arm64::Vmsa4k39>(const Args&);
template int run_format<arm64::Vmsa4k48>(const Args&);
template int run_format<arm64::Vmsa4k52>(const Args&);
template int run_format<arm64::Vmsa16k47>(const Args&);
template int run_format<arm64::Vmsa16k48>(const Args&);
template int run_format<arm64::Vmsa16k52>(const Args&);
}  // namespace ptgen
