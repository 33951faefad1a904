/* A C program against an installed ptlib's C API (CMake ptlib::c, pkg-config ptlib-c): an
 * x86-64 4-level tree with one 2 MiB page, translated. Exit status 0 when the translation is
 * right (Intel SDM vol. 3A 4.5: a PD entry with PS maps 2 MiB). */
#include <ptlib.h>
#include <stdio.h>

static uint64_t pool[16 * 512];

int main(void) {
  ptlib_arena arena;
  ptlib_memory mem;
  ptlib_tree tree;
  ptlib_error err;
  ptlib_leaf leaf;
  uint64_t pa = 0;
  ptlib_arena_init(&arena, pool, sizeof pool, 0x100000);
  mem = ptlib_arena_memory(&arena);
  if (ptlib_tree_create(PTLIB_X86_64_L4, 0, &mem, &tree, &err) != PTLIB_OK ||
      ptlib_map(&tree, &mem, 0xffff800000000000u, 0, 2u << 20, PTLIB_R | PTLIB_W | PTLIB_G, NULL, NULL, &err) !=
          PTLIB_OK ||
      ptlib_translate(&tree, &mem, 0xffff800000001234u, &pa, &leaf, &err) != PTLIB_OK) {
    char text[160];
    ptlib_error_text(&err, text, sizeof text);
    printf("%s\n", text);
    return 1;
  }
  printf("C: 0xffff800000001234 -> %#llx (%s, %llu bytes)\n", (unsigned long long)pa, leaf.level_name,
         (unsigned long long)leaf.size);
  return pa == 0x1234 && leaf.size == 2u << 20 ? 0 : 1;
}
