/* The 64-bit part of an x86-64 demo kernel (a flat binary, see link64.ld) inside the 32-bit
   loader's image, page-aligned: its load PA is x86_blob_start. */
  .section .blob, "aw"
  .balign 4096
  .globl x86_blob_start
x86_blob_start:
  .incbin DEMO_BLOB
  .balign 4096
  .globl x86_blob_end
x86_blob_end:
