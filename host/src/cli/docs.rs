//! `drhost completions SHELL` and `drhost man [SUBCOMMAND]`: generated from
//! the same command definition `--help` prints ([`super::args::Cli`]), so
//! they can never disagree with it. Both write to stdout only.

use std::io::Write;

use clap::CommandFactory;

use super::args::Cli;

/// The completion script for `shell` on stdout.
pub fn completions(shell: clap_complete::Shell) {
    let mut command = Cli::command();
    clap_complete::generate(shell, &mut command, "drhost", &mut std::io::stdout().lock());
}

/// The roff manual page of drhost, or of one subcommand (`drhost-run(1)`),
/// on stdout.
pub fn man(subcommand: Option<&str>) -> Result<(), drhost::Error> {
    let mut command = Cli::command();
    command.build();
    let source = format!("drhost {}", command.get_version().unwrap_or_default());
    let page = match subcommand {
        None => command,
        Some(name) => {
            let names: Vec<&str> = command
                .get_subcommands()
                .map(|c| c.get_name())
                .filter(|n| *n != "help")
                .collect();
            let Some(sub) = command.find_subcommand(name).filter(|_| name != "help") else {
                return Err(drhost::Error::Usage(format!(
                    "`{name}` is not a drhost subcommand; pages exist for {}",
                    names.join(", ")
                )));
            };
            // `build` named it `drhost-NAME` (the page) and `drhost NAME` (the synopsis).
            sub.clone()
        }
    };
    let mut out = Vec::new();
    clap_mangen::Man::new(page)
        .source(source)
        .manual("drhost manual")
        .render(&mut out)
        .map_err(|e| drhost::Error::Internal(format!("cannot render the manual page: {e}")))?;
    let _ = std::io::stdout().lock().write_all(&out);
    Ok(())
}
