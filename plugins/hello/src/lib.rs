//! `hello`: the smallest real plugin. It prints a greeting with `echo`
//! (shell), probes a health URL (http) and logs what it saw.

use drhost_sdk::prelude::*;

struct Hello;

impl Plugin for Hello {
    fn describe() -> Manifest {
        manifest(
            "hello",
            env!("CARGO_PKG_VERSION"),
            "Says hello through `echo` and probes a health URL",
        )
        .param("greeting", "what echo prints", Some("hello from drhost"))
        .param(
            "url",
            "a health URL on 127.0.0.1 to probe; empty skips the probe",
            Some(""),
        )
        .need("shell", "echo", Access::Write, "prints the greeting")
        .need("http", "127.0.0.1:*", Access::Read, "probes the health URL")
        .build()
    }

    fn run(params: Params) -> Result<Outcome, Failure> {
        let step = Step::start("say hello");
        let said =
            run_program("echo", &[params.get("greeting")?]).map_err(|e| Failure::from(e).in_step("say hello"))?;
        step.note(said.stdout.trim());
        step.ok();
        let mut result = outcome("said hello").fact("echo", said.stdout.trim());

        if let Some(url) = params.optional("url")? {
            let step = Step::start(format!("probe {url}"));
            let response = http_get(url)?;
            info(format!(
                "{url} answered {} in {} ms",
                response.status, response.duration_ms
            ));
            if response.status >= 400 {
                step.fail();
                return Err(fail(format!("{url} answered {}", response.status))
                    .in_step("probe")
                    .hint("check the service's logs"));
            }
            step.ok();
            result = result.fact("http-status", response.status);
        }
        Ok(result)
    }
}

export_plugin!(Hello);
