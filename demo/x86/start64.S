/* Entry of the 64-bit part of the x86-64 demo kernels. The 32-bit loader (start32.S +
 * loader64.cpp) has built the phase-1 tables with paging off, entered IA-32e mode and jumps
 * here at the identity address with RDI pointing at a 64-bit word: the VA the phase-1 tables
 * map this image at. This
 * image is a static PIE linked at 0 and loaded (inside the loader's image) at some page-aligned
 * PA: relocate the pointers held in data for the high VA (reloc.hpp), move there, and call
 * x86_main64(load PA, VA).
 */
  .section .text.entry, "ax"
  .code64
  .globl _start64
_start64:
  mov   (%rdi), %r12                    /* the image's VA (callee-saved across the calls) */
  lea   _start64(%rip), %r13            /* its PA: running identity-mapped */
  lea   __stack_top(%rip), %rsp
  mov   %r13, %rdi
  mov   %r12, %rsi
  call  x86_relocate                    /* (running base, new base) */
  lea   1f(%rip), %rax                  /* continue at the same code through the high VA */
  sub   %r13, %rax
  add   %r12, %rax
  jmp   *%rax
1:lea   __stack_top(%rip), %rsp         /* the stack through the high VA */
  mov   %r13, %rdi
  mov   %r12, %rsi
  call  x86_main64
2:cli
  hlt
  jmp   2b

/* Exception stubs, 16 bytes apart from x86_isr0 (SDM vol. 3A 6.14.1 64-bit frame; 6.15 which
   vectors push an error code). */
  .macro ISR n
  .align 16
  .if \n == 0
  .globl x86_isr0
x86_isr0:
  .endif
  .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
  .else
  pushq $0
  .endif
  pushq $\n
  jmp   isr_common
  .endm
  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  ISR \n
  .endr
isr_common:                             /* frame: r11..rax, vector, error, rip, cs, rflags, rsp, ss */
  push  %rax
  push  %rcx
  push  %rdx
  push  %rsi
  push  %rdi
  push  %r8
  push  %r9
  push  %r10
  push  %r11
  mov   %rsp, %rdi
  cld
  call  x86_trap
  pop   %r11
  pop   %r10
  pop   %r9
  pop   %r8
  pop   %rdi
  pop   %rsi
  pop   %rdx
  pop   %rcx
  pop   %rax
  add   $16, %rsp
  iretq

  .section .data
  .align 16
  .globl x86_gdt
x86_gdt:                                /* the loader's selectors: code32 0x08, data 0x10, code64 0x18 */
  .quad 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00AF9A000000FFFF
