//! The last step of `make bench`: issue 14's figures from every bench that
//! ran (`target/bench/*.tsv`, see `drhost_tests::bench`) as one table, each
//! beside its baseline and target. Runs nothing itself.

use drhost_tests::bench::{recorded, table, BENCHES};

fn main() {
    let rows: Vec<_> = BENCHES.iter().map(|b| (*b, recorded(b))).collect();
    println!("\nissue 14: every figure, beside its baseline and target\n");
    print!("{}", table(&rows));
    let missed = rows
        .iter()
        .flat_map(|(_, f)| f.iter().flatten())
        .filter(|f| f.met == Some(false))
        .count();
    println!(
        "\n{missed} target(s) missed; what bounds each is in tests/benches/PERF-NOTES.md. \
         `cold_build` is `make bench-cold` (a fresh clone built from nothing; not part of `make bench`)."
    );
}
