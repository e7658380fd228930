//! drhost.toml: the loader `run` uses ([`Config::parse`]) and the one
//! `drhost check` uses ([`check_text`]), from a string (no file is read or
//! written; drill plugin paths are only looked up).
//!
//! Invariants: `check` never passes a file `run` refuses (at least one
//! problem), and reads every file `run` reads; the grants of every plugin
//! of a file that loads can be taken (`grants_for`) and checked for
//! laundering.
#![no_main]

use std::path::Path;

use drhost::config::Config;
use drhost::fuzzing::check_text;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let path = Path::new("/nonexistent/drhost-fuzz/drhost.toml");
    let run = Config::parse(path, text);
    let (checked, problems) = check_text(path, text);
    for problem in &problems {
        let _ = problem.to_string();
    }
    match &run {
        Ok(config) => {
            assert!(checked.is_some(), "check cannot read a file run reads: {problems:?}");
            for id in config.plugins.keys() {
                let grants = config.grants_for(id);
                let _ = drhost::caps::secret::laundering(&grants);
                let _ = drhost::caps::vault::laundering(&grants.vault);
            }
            let _ = config.grants_for("not-configured");
            let _ = config.targets.tables();
        }
        Err(error) => {
            let _ = error.to_string();
            assert!(
                !problems.is_empty(),
                "check finds nothing wrong in a file run refuses: {error}"
            );
        }
    }
});
