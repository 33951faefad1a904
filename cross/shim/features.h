/* Lets the host libstdc++ 12 <bits/c++config.h> work without glibc, for freestanding builds:
   its bits/os_defines.h includes <features.h> and tests __GLIBC_PREREQ, and -nostdlibinc hides
   glibc's. See docs/freestanding.md, section 2. */
#pragma once
#define __GLIBC_PREREQ(maj, min) 0
