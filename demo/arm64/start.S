/* arm64 demo kernel entry, exception vectors and the jump to the image's high VA.
 *
 * QEMU virt with -kernel <ELF> enters _start at its load address, at EL1, MMU off
 * (docs/freestanding.md, section 7). The kernel runs there first and at the layout's image VA after the jump, so everything
 * is PC-relative (adr/adrp; the C++ code: small code model, -fno-jump-tables). */
  .section .text.entry, "ax"
  .globl _start
_start:
  adrp x0, __stack_top          /* physical address of the stack top (PC-relative) */
  add  x0, x0, :lo12:__stack_top
  mov  sp, x0
  adrp x0, __bss_start
  add  x0, x0, :lo12:__bss_start
  adrp x1, __bss_end
  add  x1, x1, :lo12:__bss_end
1: cmp  x0, x1
  b.hs 2f
  str  xzr, [x0], #8
  b    1b
2: adr  x0, vectors             /* physical address of the vectors until the switch */
  msr  vbar_el1, x0
  isb
  bl   arm64_main                /* demo::Boot<...>::run(): never returns */
3: wfe
  b    3b

/* demo_continue_at(fn, offset): continue at fn + offset with the stack at sp + offset. */
  .globl demo_continue_at
demo_continue_at:
  mov  x2, sp
  add  sp, x2, x1
  add  x0, x0, x1
  br   x0

/* Exception vectors: 16 slots of 0x80 bytes, every slot saves the frame and calls
 * arm64_trap(frame). The frame: x0..x30, then ELR_EL1, SPSR_EL1, ESR_EL1, FAR_EL1 (35 words);
 * the handler may change the saved ELR_EL1 (where to resume) and registers. */
  .section .text.vectors, "ax"
  .balign 2048
  .globl vectors
vectors:
  .rept 16
  .balign 0x80
  b    trap_entry
  .endr

trap_entry:
  sub  sp, sp, #288
  stp  x0, x1, [sp, #0]
  stp  x2, x3, [sp, #16]
  stp  x4, x5, [sp, #32]
  stp  x6, x7, [sp, #48]
  stp  x8, x9, [sp, #64]
  stp  x10, x11, [sp, #80]
  stp  x12, x13, [sp, #96]
  stp  x14, x15, [sp, #112]
  stp  x16, x17, [sp, #128]
  stp  x18, x19, [sp, #144]
  stp  x20, x21, [sp, #160]
  stp  x22, x23, [sp, #176]
  stp  x24, x25, [sp, #192]
  stp  x26, x27, [sp, #208]
  stp  x28, x29, [sp, #224]
  mrs  x0, elr_el1
  stp  x30, x0, [sp, #240]
  mrs  x0, spsr_el1
  mrs  x1, esr_el1
  stp  x0, x1, [sp, #256]
  mrs  x0, far_el1
  str  x0, [sp, #272]
  mov  x0, sp
  bl   arm64_trap
  ldp  x30, x0, [sp, #240]
  msr  elr_el1, x0
  ldp  x0, x1, [sp, #256]
  msr  spsr_el1, x0
  ldp  x0, x1, [sp, #0]
  ldp  x2, x3, [sp, #16]
  ldp  x4, x5, [sp, #32]
  ldp  x6, x7, [sp, #48]
  ldp  x8, x9, [sp, #64]
  ldp  x10, x11, [sp, #80]
  ldp  x12, x13, [sp, #96]
  ldp  x14, x15, [sp, #112]
  ldp  x16, x17, [sp, #128]
  ldp  x18, x19, [sp, #144]
  ldp  x20, x21, [sp, #160]
  ldp  x22, x23, [sp, #176]
  ldp  x24, x25, [sp, #192]
  ldp  x26, x27, [sp, #208]
  ldp  x28, x29, [sp, #224]
  add  sp, sp, #288
  eret
