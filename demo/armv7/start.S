/* ARMv7 (LPAE) demo kernel entry, exception vectors and the jump to the image's high VA.
 *
 * QEMU virt (-M virt -cpu cortex-a15, secure=off) enters _start at the ELF entry in SVC mode with
 * the MMU off. The entry code runs only at the load address (= link address), so `ldr =sym`
 * is right here; everything that also runs at the high VA (the C++ code: -fPIC with hidden
 * symbols, the vectors, the trap path) is PC-relative. ARM state throughout (-marm). */
  .syntax unified
  .arm
  .section .text.entry, "ax"
  .globl _start
_start:
  cpsid aif
  cps  #0x17                    /* ABT: data and prefetch aborts */
  ldr  sp, =__exc_stack_top
  cps  #0x1b                    /* UND */
  ldr  sp, =__exc_stack_top
  cps  #0x13                    /* SVC: the kernel */
  ldr  sp, =__stack_top
  ldr  r0, =__bss_start
  ldr  r1, =__bss_end
  mov  r2, #0
1: cmp  r0, r1
  strlo r2, [r0], #4
  blo  1b
  ldr  r0, =vectors
  mcr  p15, 0, r0, c12, c0, 0   /* VBAR */
  isb
  bl   armv7_main               /* demo::Boot<...>::run(): never returns */
2: wfe
  b    2b

/* demo_continue_at(fn, offset): continue at fn + offset with the stack at sp + offset. */
  .globl demo_continue_at
demo_continue_at:
  add  sp, sp, r1
  add  r0, r0, r1
  bx   r0

/* armv7_set_exc_stack(sp): the ABT and UND stack pointers (called at the high VA). */
  .globl armv7_set_exc_stack
armv7_set_exc_stack:
  mrs  r1, cpsr
  cps  #0x17
  mov  sp, r0
  cps  #0x1b
  mov  sp, r0
  msr  cpsr_c, r1
  bx   lr

/* Vectors (VBAR, 32-byte aligned): every exception saves a frame on its mode's stack and calls
 * armv7_trap(frame). Frame (18 words): kind, SPSR, LR_svc, pad, r0..r12, return PC; the handler
 * may change the return PC. Return: LDM with ^ restores CPSR from SPSR. */
  .section .text.vectors, "ax"
  .balign 32
  .globl vectors
vectors:
  b    .                        /* reset */
  b    und_entry
  b    svc_entry
  b    pabt_entry
  b    dabt_entry
  b    .
  b    irq_entry
  b    fiq_entry

und_entry:
  stmfd sp!, {r0-r12, lr}       /* LR_und = the instruction after the undefined one */
  mov  r0, #1
  b    trap_common
svc_entry:
  stmfd sp!, {r0-r12, lr}
  mov  r0, #2
  b    trap_common
pabt_entry:
  sub  lr, lr, #4               /* LR_abt = faulting fetch + 4 */
  stmfd sp!, {r0-r12, lr}
  mov  r0, #3
  b    trap_common
dabt_entry:
  sub  lr, lr, #8               /* LR_abt = faulting instruction + 8 */
  stmfd sp!, {r0-r12, lr}
  mov  r0, #4
  b    trap_common
irq_entry:
  sub  lr, lr, #4
  stmfd sp!, {r0-r12, lr}
  mov  r0, #6
  b    trap_common
fiq_entry:
  sub  lr, lr, #4
  stmfd sp!, {r0-r12, lr}
  mov  r0, #7

trap_common:
  mrs  r1, spsr
  mrs  r3, cpsr                 /* LR_svc: visit SVC mode for it (a banked MRS needs EL2) */
  cps  #0x13
  mov  r2, lr
  msr  cpsr_c, r3
  push {r0-r3}
  mov  r0, sp
  bl   armv7_trap
  pop  {r0-r3}
  msr  spsr_cxsf, r1
  ldmfd sp!, {r0-r12, pc}^
