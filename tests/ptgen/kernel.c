// A tiny freestanding "kernel" for ptgen's tests: code, read-only data, data and bss, so the
// ELF has text, rodata and data PT_LOAD segments (see kernel.ld). It is never run.
__attribute__((used)) const char banner[64] = "ptgen test kernel";
const char* volatile banner_ptr = banner;  // .data pointing into .rodata: nothing folds away
unsigned long scratch[1024];                // .bss

unsigned long _start(void) {
  unsigned long sum = 0;
  for (unsigned long i = 0; i < sizeof banner; ++i) sum += (unsigned long)banner_ptr[i] + scratch[i];
  scratch[0] = sum;
  return sum;
}
