/* Lets the host libstdc++ 12 <bits/c++config.h> work without glibc, for freestanding builds
   (see shared/research/toolchain.md section 2.2). */
#pragma once
#define __GLIBC_PREREQ(maj, min) 0
