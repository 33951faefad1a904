/* Entry of the arm64 example kernel: QEMU enters here at EL1 with the MMU off (one CPU). A
   stack, a zeroed .bss, then kmain() in kernel.cpp. */
  .section .text.entry, "ax"
  .globl _start
_start:
  adrp x0, __stack_top
  add  x0, x0, :lo12:__stack_top
  mov  sp, x0
  adrp x0, __bss_start
  add  x0, x0, :lo12:__bss_start
  adrp x1, __bss_end
  add  x1, x1, :lo12:__bss_end
1:
  cmp  x0, x1
  b.hs 2f
  str  xzr, [x0], #8
  b    1b
2:
  bl   kmain
3:
  wfe
  b    3b
