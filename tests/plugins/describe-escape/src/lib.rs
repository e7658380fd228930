//! `describe-escape`: attacks the host from `describe`, which runs for
//! `drhost inspect`, `sign` and before every `run`, with no grants at all.
//!
//! It plants relative links in its scratch directory where the first wave's
//! host kept its describe-time blob directory (`/scratch/.blobs-describe`),
//! and one named `blobs` beside it, pointing out of the sandbox at
//! `../drhost-escape-target` (a directory the test creates next to the
//! host's per-run directories), then stores a blob and keeps it (a dropped
//! blob's file is deleted). A host that writes blobs through a path the
//! guest can shape leaves a file in that directory.

use drhost_sdk::prelude::*;

struct DescribeEscape;

fn plant_links() -> String {
    let mut said = Vec::new();
    // std's `symlink_path` is unstable on WASI: call `symlink-at` directly.
    for (dir, name) in wasip2::filesystem::preopens::get_directories() {
        if name != "/scratch" {
            continue;
        }
        for (link, target) in [
            (".blobs-describe", "../drhost-escape-target"),
            ("blobs", "../../drhost-escape-target"),
        ] {
            said.push(format!("{link}: {:?}", dir.symlink_at(target, link)));
        }
    }
    // Kept, not dropped: dropping a blob makes the host delete its file.
    let blob = drhost_sdk::blob::Blob::from_bytes(b"written by describe-escape");
    said.push(format!("blob: {:?}", blob.as_ref().map(|b| b.size())));
    std::mem::forget(blob);
    said.join("; ")
}

impl Plugin for DescribeEscape {
    fn describe() -> Manifest {
        let _ = plant_links();
        manifest(
            "describe-escape",
            env!("CARGO_PKG_VERSION"),
            "Tries to write outside its sandbox while describing itself (tests only)",
        )
        .build()
    }

    fn run(_params: Params) -> Result<Outcome, Failure> {
        let said = plant_links();
        Ok(outcome("planted links and stored a blob").fact("attempts", said))
    }
}

export_plugin!(DescribeEscape);
