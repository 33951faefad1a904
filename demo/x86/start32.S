/* 32-bit entry of every x86 demo kernel (the 32-bit kernels and the 64-bit kernels' loader).
 *
 * Multiboot v1 (spec 0.6.96, 3.1 header, 3.2 machine state): QEMU loads the ELF32 image at its
 * physical addresses and enters _start in 32-bit protected mode with paging off, EAX =
 * 0x2BADB002, EBX = the multiboot information's physical address. The image is linked -pie
 * and runs first at its load address, later (32-bit kernels) at its high VA: all code here is
 * position-independent (call/pop gives the running address), and C++ is built -fPIE with
 * hidden visibility, so nothing depends on where the image runs except data holding pointers,
 * which reloc.hpp relocates before the move.
 */
#define MB_MAGIC 0x1BADB002
#define MB_FLAGS 0x00000003 /* bit 0: modules page-aligned, bit 1: memory information */

  .section .multiboot, "a"
  .align 4
  .long MB_MAGIC, MB_FLAGS, -(MB_MAGIC + MB_FLAGS)

  .section .text.entry, "ax"
  .code32
  .globl _start
_start:
  cli
  mov   %eax, %esi                      /* multiboot magic */
  call  1f
1:pop   %ebp                            /* ebp = running address of 1b */
  lea   (x86_gdt - 1b)(%ebp), %eax      /* the GDT pointer needs the GDT's running address */
  mov   %eax, (gdt_ptr + 2 - 1b)(%ebp)
  lgdt  (gdt_ptr - 1b)(%ebp)
  lea   (2f - 1b)(%ebp), %eax
  push  $0x08                           /* reload CS with our flat 32-bit code segment */
  push  %eax
  lret
2:mov   $0x10, %ax
  mov   %ax, %ds
  mov   %ax, %es
  mov   %ax, %ss
  mov   %ax, %fs
  mov   %ax, %gs
  lea   (__bss_start - 1b)(%ebp), %edi  /* zero .bss (the static pools and the stack) */
  lea   (__bss_end - 1b)(%ebp), %ecx
  sub   %edi, %ecx
  xor   %eax, %eax
  cld
  rep stosb
  lea   (__stack_top - 1b)(%ebp), %esp
  push  %ebx                            /* x86_main(magic, info PA) */
  push  %esi
  call  x86_main
3:cli
  hlt
  jmp   3b

/* [[noreturn]] void x86_jump(uint32 target, uint32 sp_offset): continue at `target` with the
   stack pointer moved by sp_offset (the same stack through its high alias). */
  .globl x86_jump
x86_jump:
  mov   4(%esp), %eax
  mov   8(%esp), %ecx
  add   %ecx, %esp
  jmp   *%eax

/* [[noreturn]] void x86_enter_long(uint32 entry, uint32 arg): paging is on in IA-32e mode
   (compatibility submode, SDM vol. 3A 9.8.5); far-jump to the 64-bit code segment and jump to
   `entry` (identity-mapped) with `arg` in RDI. */
  .globl x86_enter_long
x86_enter_long:
  mov   4(%esp), %esi
  mov   8(%esp), %edi
  call  1f
1:pop   %ebp
  lea   (2f - 1b)(%ebp), %eax
  push  $0x18
  push  %eax
  lret
  .code64
2:movl  %esi, %esi                      /* upper halves are undefined after the mode switch */
  movl  %edi, %edi
  jmp   *%rsi
  .code32

/* Exception stubs, 16 bytes apart from x86_isr0 (the IDT is filled at run time from that
   address: no table of absolute addresses). Vectors with an error code: SDM vol. 3A 6.15. */
  .macro ISR n
  .align 16
  .if \n == 0
  .globl x86_isr0
x86_isr0:
  .endif
  .if (\n == 8) || (\n == 10) || (\n == 11) || (\n == 12) || (\n == 13) || (\n == 14) || (\n == 17) || (\n == 21) || (\n == 29) || (\n == 30)
  .else
  push  $0
  .endif
  push  $\n
  jmp   isr_common
  .endm
  .irp n,0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17,18,19,20,21,22,23,24,25,26,27,28,29,30,31
  ISR \n
  .endr
isr_common:                             /* frame: edi..eax (pusha), vector, error, eip, cs, eflags */
  pusha
  push  %esp
  cld
  call  x86_trap
  add   $4, %esp
  popa
  add   $8, %esp
  iret

  .section .data
  .align 16
  .globl x86_gdt
x86_gdt:                                /* null, code32 0x08, data 0x10, code64 0x18 (SDM 3.4.5) */
  .quad 0, 0x00CF9A000000FFFF, 0x00CF92000000FFFF, 0x00AF9A000000FFFF
gdt_ptr:
  .word gdt_ptr - x86_gdt - 1
  .long 0
