/* Entry of the RISC-V example kernel: OpenSBI jumps here in S-mode with the MMU off (a0 = hart
   id, a1 = device tree; one hart). A stack, a zeroed .bss, then kmain() in kernel.cpp. */
  .section .text.entry, "ax"
  .globl _start
_start:
  la   sp, __stack_top
  la   t0, __bss_start
  la   t1, __bss_end
1:
  bgeu t0, t1, 2f
  sd   zero, 0(t0)
  addi t0, t0, 8
  j    1b
2:
  call kmain
3:
  wfi
  j    3b
