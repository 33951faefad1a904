/* Entry of the x86-64 example kernel. QEMU's -kernel loads multiboot images, and starts them in
   32-bit protected mode with paging off; long mode needs paging on. So this stub does what every
   x86-64 kernel's early code does: a throw-away identity map of the first 1 GiB (2 MiB pages),
   CR4.PAE, CR3, EFER.LME, CR0.PG (Intel SDM vol. 3A, "Initializing IA-32e Mode"), a far
   jump to a 64-bit code segment, then kmain() in kernel.cpp, which builds the real tables with
   ptlib and switches to them. The image is linked and runs at 1 MiB (link.ld). */
  .section .multiboot, "a"
  .align 4
  .long 0x1badb002                  /* multiboot v1 magic */
  .long 0                           /* flags: load the ELF segments */
  .long -0x1badb002                 /* checksum */

  .section .text.entry, "ax"
  .code32
  .globl _start
_start:
  mov  $__stack_top, %esp
  mov  $__bss_start, %edi           /* zero .bss, the early tables included */
  mov  $__bss_end, %ecx
  sub  %edi, %ecx
  shr  $2, %ecx
  xor  %eax, %eax
  rep stosl
  mov  $early_pdpt + 3, %eax        /* PML4[0] -> PDPT, present + writable */
  mov  %eax, early_pml4
  mov  $early_pd + 3, %eax          /* PDPT[0] -> PD */
  mov  %eax, early_pdpt
  mov  $0x83, %eax                  /* PD[i] = i * 2 MiB, present + writable + page size */
  mov  $early_pd, %edi
  mov  $512, %ecx
1:
  mov  %eax, (%edi)
  add  $0x200000, %eax
  add  $8, %edi
  loop 1b
  mov  %cr4, %eax
  or   $0x20, %eax                  /* CR4.PAE */
  mov  %eax, %cr4
  mov  $early_pml4, %eax
  mov  %eax, %cr3
  mov  $0xc0000080, %ecx            /* IA32_EFER.LME */
  rdmsr
  or   $0x100, %eax
  wrmsr
  mov  %cr0, %eax
  or   $0x80000001, %eax            /* CR0.PG + PE: IA-32e mode */
  mov  %eax, %cr0
  lgdt gdt_ptr
  ljmp $0x08, $long_mode

  .code64
long_mode:
  mov  $0x10, %ax
  mov  %ax, %ds
  mov  %ax, %es
  mov  %ax, %ss
  mov  $__stack_top, %rsp
  call kmain
2:
  cli
  hlt
  jmp  2b

  .section .rodata
  .align 8
gdt:
  .quad 0
  .quad 0x00af9a000000ffff          /* 0x08: 64-bit code (L = 1), DPL 0 */
  .quad 0x00cf92000000ffff          /* 0x10: data */
gdt_ptr:
  .word gdt_ptr - gdt - 1
  .long gdt

  .section .bss
  .align 4096
early_pml4: .skip 4096
early_pdpt: .skip 4096
early_pd:   .skip 4096
