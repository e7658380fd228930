//! Link options for the `drhost` executable only (no dependency is rebuilt
//! for them, and the wasm32 plugin builds never see them).
//!
//! `-z pack-relative-relocs` stores the executable's ~66,000 relative
//! relocations as a compact DT_RELR table (glibc >= 2.36, binutils >= 2.38):
//! `drhost --version` then spends less of its start-up in the dynamic
//! loader. The executable stays position-independent (ASLR); see the
//! performance note in README.md for the non-PIE figures and why not.

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed=DRHOST_NO_RELR");
    let target = std::env::var("TARGET").unwrap_or_default();
    let gnu_linux = target.ends_with("-linux-gnu") && (target.starts_with("x86_64") || target.starts_with("aarch64"));
    if gnu_linux && std::env::var_os("DRHOST_NO_RELR").is_none() && glibc_has_relr() {
        println!("cargo:rustc-link-arg-bins=-Wl,-z,pack-relative-relocs");
    }
}

/// Whether the C library the executable links against understands DT_RELR
/// (glibc 2.36 added it): `ldd --version` says `... 2.36`. Without it the
/// option would make an executable the loader refuses, so it is left out.
fn glibc_has_relr() -> bool {
    let Ok(out) = std::process::Command::new("ldd").arg("--version").output() else {
        return false;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    let Some(version) = text.lines().next().and_then(|l| l.split_whitespace().last()) else {
        return false;
    };
    let mut parts = version.split('.').map(|p| p.parse::<u32>().unwrap_or(0));
    let (major, minor) = (parts.next().unwrap_or(0), parts.next().unwrap_or(0));
    (major, minor) >= (2, 36)
}
