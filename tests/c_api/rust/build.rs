// Links libptlib_c.a and libptlib_engine.a from the meson build directory (PTLIB_BUILD_DIR),
// and the C++ runtime the engine library needs.
fn main() {
    let dir = std::env::var("PTLIB_BUILD_DIR").expect("PTLIB_BUILD_DIR: the meson build directory");
    println!("cargo:rustc-link-search=native={}", dir);
    println!("cargo:rustc-link-lib=static=ptlib_c");
    println!("cargo:rustc-link-lib=static=ptlib_engine");
    println!("cargo:rustc-link-lib=dylib=stdc++");
    println!("cargo:rerun-if-env-changed=PTLIB_BUILD_DIR");
    println!("cargo:rerun-if-changed={}/libptlib_c.a", dir);
    println!("cargo:rerun-if-changed={}/libptlib_engine.a", dir);
}
