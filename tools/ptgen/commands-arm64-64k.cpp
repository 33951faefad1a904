// ptgen's per-format commands (commands.hpp), compiled here for
// the arm64 64 KiB formats (each with its TTBR1 counterpart).
#include "commands.hpp"

namespace ptgen {
template int run_format<arm64::Vmsa64k42>(const Args&);
template int run_format<arm64::Vmsa64k48>(const Args&);
template int run_format<arm64::Vmsa64k52>(const Args&);
}  // namespace ptgen
