/* RISC-V demo kernel entry (-bios none: QEMU jumps to 0x80000000 in M-mode), the S-mode trap
   entry, and the jump to the image's high VA. RV64 and RV32 from one file. */
#if __riscv_xlen == 64
#define REG_S sd
#define REG_L ld
#define SZREG 8
#else
#define REG_S sw
#define REG_L lw
#define SZREG 4
#endif

  .section .text.entry, "ax"
  .globl _start
_start:
  /* M-mode: PMP entry 0 = NAPOT over everything, RWX (else every S-mode access faults,
     the page-table walk included: priv 3.7.1); page faults 12/13/15 go to S-mode. */
  li   t0, -1
  csrw pmpaddr0, t0
  li   t0, 0x1f
  csrw pmpcfg0, t0
  li   t0, 0xb000
  csrw medeleg, t0
#ifdef DEMO_PBMTE
  /* menvcfg.PBMTE (bit 62, priv 3.1.18): Svpbmt's PBMT field is live for S-mode. */
  li   t0, 1
  slli t0, t0, 62
  csrs 0x30a, t0
#endif
  li   t0, 0x1800            /* mstatus.MPP = S (01) */
  csrc mstatus, t0
  li   t0, 0x0800
  csrs mstatus, t0
  la   t0, 1f
  csrw mepc, t0
  mret
1:
  la   sp, __stack_top
  la   t0, __bss_start
  la   t1, __bss_end
2:
  bgeu t0, t1, 3f
  REG_S zero, 0(t0)
  addi t0, t0, SZREG
  j    2b
3:
  la   t0, trap_entry
  csrw stvec, t0
  call kmain
4:
  j    4b

/* demo_continue_at(fn, offset): continue at fn + offset with the stack at sp + offset. */
  .globl demo_continue_at
demo_continue_at:
  add  sp, sp, a1
  add  a0, a0, a1
  jr   a0

/* Saves the caller-saved registers, calls riscv_trap(scause, stval, sepc, ra) and resumes at
   the sepc it returns. */
  .globl trap_entry
  .align 2
trap_entry:
  addi sp, sp, -16*SZREG
  REG_S ra, 0*SZREG(sp);  REG_S t0, 1*SZREG(sp);  REG_S t1, 2*SZREG(sp);  REG_S t2, 3*SZREG(sp)
  REG_S t3, 4*SZREG(sp);  REG_S t4, 5*SZREG(sp);  REG_S t5, 6*SZREG(sp);  REG_S t6, 7*SZREG(sp)
  REG_S a0, 8*SZREG(sp);  REG_S a1, 9*SZREG(sp);  REG_S a2, 10*SZREG(sp); REG_S a3, 11*SZREG(sp)
  REG_S a4, 12*SZREG(sp); REG_S a5, 13*SZREG(sp); REG_S a6, 14*SZREG(sp); REG_S a7, 15*SZREG(sp)
  csrr a0, scause
  csrr a1, stval
  csrr a2, sepc
  mv   a3, ra
  call riscv_trap
  csrw sepc, a0
  REG_L ra, 0*SZREG(sp);  REG_L t0, 1*SZREG(sp);  REG_L t1, 2*SZREG(sp);  REG_L t2, 3*SZREG(sp)
  REG_L t3, 4*SZREG(sp);  REG_L t4, 5*SZREG(sp);  REG_L t5, 6*SZREG(sp);  REG_L t6, 7*SZREG(sp)
  REG_L a0, 8*SZREG(sp);  REG_L a1, 9*SZREG(sp);  REG_L a2, 10*SZREG(sp); REG_L a3, 11*SZREG(sp)
  REG_L a4, 12*SZREG(sp); REG_L a5, 13*SZREG(sp); REG_L a6, 14*SZREG(sp); REG_L a7, 15*SZREG(sp)
  addi sp, sp, 16*SZREG
  sret
