//! Built against `drhost:runbook@0.9.0`, which no host supports yet.
wit_bindgen::generate!({ path: "wit", world: "plugin" });

struct Future;

impl Guest for Future {
    fn describe() -> Manifest {
        Manifest {
            id: "future-contract".into(),
            version: "0.1.0".into(),
            description: "from the future".into(),
        }
    }
    fn run() -> Result<String, String> {
        drhost::runbook::log::write("hello from 0.9.0");
        Ok("ran".into())
    }
}

export!(Future);
