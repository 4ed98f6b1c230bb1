//! With feature `xdp`: compiles bpf/vigil_xdp.c to an eBPF object with
//! `clang -target bpf` (Debian: clang, libbpf-dev). Without it: nothing.

fn main() {
    println!("cargo:rerun-if-changed=bpf/vigil_xdp.c");
    println!("cargo:rerun-if-changed=build.rs");
    if std::env::var_os("CARGO_FEATURE_XDP").is_none() {
        return;
    }
    let out =
        std::path::PathBuf::from(std::env::var("OUT_DIR").expect("OUT_DIR")).join("vigil_xdp.o");
    let arch = std::env::consts::ARCH;
    let status =
        std::process::Command::new(std::env::var("CLANG").unwrap_or_else(|_| "clang".into()))
            .args(["-O2", "-g", "-target", "bpf"])
            .arg(format!("-I/usr/include/{arch}-linux-gnu"))
            .args(["-c", "bpf/vigil_xdp.c", "-o"])
            .arg(&out)
            .status()
            .unwrap_or_else(|e| {
                panic!("feature xdp needs clang (apt install clang libbpf-dev): {e}")
            });
    assert!(
        status.success(),
        "clang -target bpf failed on bpf/vigil_xdp.c"
    );
}
