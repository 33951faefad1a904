//! ptlib's C API from Rust: the declarations a Rust kernel would write for the part of ptlib.h
//! it uses, then a tree per format family built, translated and refused through them.
#![allow(non_camel_case_types)]
use std::ffi::CStr;
use std::os::raw::{c_char, c_void};

// ---- ptlib.h, by hand ----
type ptlib_status = u32; // C enum of 32 bits (ptlib.h keeps it at 32 bits)
type ptlib_format = u32;
const PTLIB_OK: ptlib_status = 0;
const PTLIB_E_MISALIGNED_VA: ptlib_status = 1;
const PTLIB_E_OVERLAP: ptlib_status = 9;
const PTLIB_E_NOT_MAPPED: ptlib_status = 13;
const PTLIB_E_UNKNOWN_FORMAT: ptlib_status = 64;
const PTLIB_R: u32 = 0x01;
const PTLIB_W: u32 = 0x02;
const PTLIB_G: u32 = 0x10;
const PTLIB_NO_LEVEL: i32 = -128;

#[repr(C)]
#[derive(Clone, Copy)]
struct ptlib_error {
    code: ptlib_status,
    level: i32,
    va: u64,
    pa: u64,
    level_name: *const c_char,
    tables_needed: u32,
    tables_available: u32,
    hint: *const c_char,
}
#[repr(C)]
#[derive(Clone, Copy)]
struct ptlib_tree {
    format: ptlib_format,
    caps: u32,
    root: u64,
}
#[repr(C)]
#[derive(Clone, Copy)]
struct ptlib_memory {
    ctx: *mut c_void,
    allocate: Option<extern "C" fn(*mut c_void, usize, usize, bool, u32, *mut u64, *mut *mut c_void) -> bool>,
    reserve: Option<extern "C" fn(*mut c_void, usize, usize, usize) -> bool>,
    release: Option<extern "C" fn(*mut c_void, u64, usize, usize)>,
    map: Option<extern "C" fn(*mut c_void, u64, u32) -> *mut c_void>,
    unmap: Option<extern "C" fn(*mut c_void, *mut c_void, u32)>,
    direct_offset: usize,
    direct_lo: u64,
    direct_bytes: u64,
}
#[repr(C, align(8))]
struct ptlib_arena {
    opaque: [u64; 24],
}
#[repr(C)]
#[derive(Clone, Copy)]
struct ptlib_leaf {
    va: u64,
    pa: u64,
    size: u64,
    attrs: u32,
    level: i32,
    level_name: *const c_char,
    depth: u32,
    contiguous: bool,
    ext: [u32; 5], // ptlib_ext: share, index, accessed, dirty, software
}
#[repr(C)]
struct ptlib_report {
    modified: u32,
    tables_added: usize,
    tables_released: usize,
    leaves_changed: usize,
}

extern "C" {
    fn ptlib_format_from_name(name: *const c_char, out: *mut ptlib_format) -> ptlib_status;
    fn ptlib_arena_init(arena: *mut ptlib_arena, buffer: *mut c_void, bytes: usize, base_pa: u64);
    fn ptlib_arena_memory(arena: *mut ptlib_arena) -> ptlib_memory;
    fn ptlib_arena_tables_in_use(arena: *const ptlib_arena) -> usize;
    fn ptlib_tree_create(format: ptlib_format, caps: u32, mem: *const ptlib_memory, out: *mut ptlib_tree,
                         err: *mut ptlib_error) -> ptlib_status;
    fn ptlib_map(tree: *const ptlib_tree, mem: *const ptlib_memory, va: u64, pa: u64, size: u64, attrs: u32,
                 opts: *const c_void, report: *mut ptlib_report, err: *mut ptlib_error) -> ptlib_status;
    fn ptlib_translate(tree: *const ptlib_tree, mem: *const ptlib_memory, va: u64, pa: *mut u64,
                       leaf: *mut ptlib_leaf, err: *mut ptlib_error) -> ptlib_status;
    fn ptlib_error_text(err: *const ptlib_error, buf: *mut c_char, size: usize) -> usize;
}

// ---- the program ----

fn error_text(e: &ptlib_error) -> String {
    let mut buf = [0 as c_char; 256];
    unsafe {
        ptlib_error_text(e, buf.as_mut_ptr(), buf.len());
        CStr::from_ptr(buf.as_ptr()).to_string_lossy().into_owned()
    }
}

fn empty_error() -> ptlib_error {
    ptlib_error { code: 0, level: 0, va: 0, pa: 0, level_name: std::ptr::null(), tables_needed: 0, tables_available: 0,
                  hint: std::ptr::null() }
}

/// One format: a block and a page mapped, translated, then a refused overlap and a misaligned VA.
/// `va` and `block` are chosen per format by the caller (from the manuals' level sizes).
fn check(name: &str, va: u64, block: u64, page: u64, failures: &mut u32) {
    let mut fail = |what: &str| {
        eprintln!("[{}] {}", name, what);
        *failures += 1;
    };
    let mut format: ptlib_format = 0;
    let cname = std::ffi::CString::new(name).unwrap();
    if unsafe { ptlib_format_from_name(cname.as_ptr(), &mut format) } != PTLIB_OK {
        return fail("unknown name");
    }
    let mut pool: Vec<u64> = vec![0; (1 << 20) / 8];
    let mut arena = ptlib_arena { opaque: [0; 24] };
    let mut err = empty_error();
    let mut tree = ptlib_tree { format: 0, caps: 0, root: 0 };
    unsafe {
        ptlib_arena_init(&mut arena, pool.as_mut_ptr() as *mut c_void, pool.len() * 8, 0x8000_0000);
        let mem = ptlib_arena_memory(&mut arena);
        if ptlib_tree_create(format, 0, &mem, &mut tree, &mut err) != PTLIB_OK {
            return fail(&error_text(&err));
        }
        if tree.root != 0x8000_0000 || ptlib_arena_tables_in_use(&arena) != 1 {
            fail("root not at the arena's first table");
        }
        let attrs = PTLIB_R | PTLIB_W | PTLIB_G;
        let mut report = ptlib_report { modified: 0, tables_added: 0, tables_released: 0, leaves_changed: 0 };
        let s = ptlib_map(&tree, &mem, va, 0x4000_0000, block + page, attrs, std::ptr::null(), &mut report, &mut err);
        if s != PTLIB_OK {
            return fail(&error_text(&err));
        }
        if report.leaves_changed != 2 || report.tables_added + 1 != ptlib_arena_tables_in_use(&arena) {
            fail("report does not match the arena");
        }
        let mut pa = 0u64;
        let mut leaf = ptlib_leaf { va: 0, pa: 0, size: 0, attrs: 0, level: 0, level_name: std::ptr::null(), depth: 0,
                                    contiguous: false, ext: [1; 5] };
        if ptlib_translate(&tree, &mem, va + 0x1234, &mut pa, &mut leaf, &mut err) != PTLIB_OK
            || pa != 0x4000_1234 || leaf.size != block || leaf.level_name.is_null() || leaf.ext != [0; 5] {
            fail("translate of the block");
        }
        if ptlib_translate(&tree, &mem, va + block + 8, &mut pa, &mut leaf, &mut err) != PTLIB_OK
            || pa != 0x4000_0000 + block + 8 || leaf.size != page {
            fail("translate of the page");
        }
        if ptlib_translate(&tree, &mem, va + 2 * block, &mut pa, &mut leaf, &mut err) != PTLIB_E_NOT_MAPPED {
            fail("translate past the end");
        }
        let before = pool.clone();
        let s = ptlib_map(&tree, &mem, va, 0, page, attrs, std::ptr::null(), &mut report, &mut err);
        if s != PTLIB_E_OVERLAP || err.va != va || err.level == PTLIB_NO_LEVEL || !error_text(&err).starts_with("overlap: ") {
            fail("overlap not reported");
        }
        if ptlib_map(&tree, &mem, va + 1, 0, page, attrs, std::ptr::null(), &mut report, &mut err) != PTLIB_E_MISALIGNED_VA
            || err.va != va + 1 {
            fail("misaligned VA not reported");
        }
        if pool != before {
            fail("a refused call changed the tables");
        }
        let bad = ptlib_tree { format: 1000, ..tree };
        if ptlib_map(&bad, &mem, va, 0, page, attrs, std::ptr::null(), &mut report, &mut err) != PTLIB_E_UNKNOWN_FORMAT {
            fail("unknown format not reported");
        }
    }
    println!("ok   {}: block {:#x} and a page mapped and translated; overlap, misalignment, unknown format refused", name, block);
}

fn main() {
    let mut failures = 0;
    // RISC-V priv 4.4.1: Sv39 4 KiB pages, 2 MiB megapages. Intel SDM 4.5: 4 KiB pages, 2 MiB PD
    // leaves. Arm ARM D8.2: 4KB granule level 2 blocks are 2 MiB; 64KB granule pages are 64 KiB,
    // level 2 blocks 512 MiB.
    check("sv39", 0xffff_ffc0_0000_0000, 2 << 20, 4 << 10, &mut failures);
    check("x86-64-l4", 0xffff_8000_0000_0000, 2 << 20, 4 << 10, &mut failures);
    check("arm64-4k-48", 0x40_0000_0000, 2 << 20, 4 << 10, &mut failures);
    check("arm64-64k-48-ttbr1", 0xffff_0000_0000_0000, 512 << 20, 64 << 10, &mut failures);
    if failures > 0 {
        eprintln!("{} failures", failures);
        std::process::exit(1);
    }
}
