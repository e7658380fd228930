//! How the host reads one command's arguments: its class (by the table in
//! `commands.rs`, then by the arguments that change its meaning), its name
//! in errors, the node a `REPLICAOF` points at, and what of it the journal
//! may show.

use super::commands::{apply, CommandClass, Rule, COMMANDS, OTHER_DB};
use super::RedisAccess;

const RESERVED_CHANNEL: &str = "channels starting with `__` belong to Redis and Sentinel (a message on `__sentinel__:hello` can move Sentinel's idea of the master)";
const FILE_SETTING: &str = "it points the server at files on its own host";
const GROWS: &str = "its offset would make the server allocate a string beyond 16 MiB (up to 512 MiB from a few bytes of arguments); write smaller values";

/// Largest string a `SETRANGE`/`SETBIT`/`BITFIELD` offset may grow (bytes).
const MAX_GROWTH: u64 = 16 * 1024 * 1024;

/// `CONFIG SET` parameters that name files on the server's host.
const FILE_SETTINGS: &[&str] = &[
    "dir",
    "dbfilename",
    "logfile",
    "pidfile",
    "aclfile",
    "unixsocket",
    "appendfilename",
    "appenddirname",
    "tls-cert-file",
    "tls-key-file",
    "tls-client-cert-file",
    "tls-client-key-file",
    "tls-ca-cert-file",
    "tls-ca-cert-dir",
    "tls-dh-params-file",
];

/// Classifies a command by [`COMMANDS`] (name and subcommands,
/// case-insensitive), then by the arguments that change its meaning.
/// Unknown commands and subcommands need `admin`.
pub fn classify(args: &[String]) -> CommandClass {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let upper = |i: usize| args.get(i).map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    match name.as_str() {
        "PUBLISH" | "SPUBLISH" if args.get(1).is_some_and(|c| c.starts_with("__")) => {
            return CommandClass::Refused(RESERVED_CHANNEL)
        }
        // COPY source destination [DB n] [REPLACE]
        "COPY" if (3..args.len()).any(|i| upper(i) == "DB") => return CommandClass::Refused(OTHER_DB),
        "CONFIG"
            if upper(1) == "SET"
                && args
                    .iter()
                    .skip(2)
                    .step_by(2)
                    .any(|k| FILE_SETTINGS.contains(&k.to_ascii_lowercase().as_str())) =>
        {
            return CommandClass::Refused(FILE_SETTING)
        }
        "SETRANGE" | "SETBIT" | "BITFIELD" if grows_too_far(&name, args) => return CommandClass::Refused(GROWS),
        _ => {}
    }
    COMMANDS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, rule)| apply(*rule, args, 0))
        .unwrap_or(CommandClass::Needs(RedisAccess::Admin))
}

/// Whether a `SETRANGE key offset value`, `SETBIT key offset bit` or
/// `BITFIELD key … SET|INCRBY type offset …` would grow the string past
/// [`MAX_GROWTH`]. Unparsable offsets are left to the server to refuse.
fn grows_too_far(name: &str, args: &[String]) -> bool {
    let number = |i: usize| args.get(i).and_then(|a| a.parse::<u64>().ok());
    match name {
        "SETRANGE" => {
            number(2).is_some_and(|o| o.saturating_add(args.get(3).map_or(0, |v| v.len() as u64)) > MAX_GROWTH)
        }
        "SETBIT" => number(2).is_some_and(|bit| bit / 8 >= MAX_GROWTH),
        _ => (2..args.len()).any(|i| {
            let op = args[i].to_ascii_uppercase();
            if op != "SET" && op != "INCRBY" {
                return false;
            }
            let width: u64 = args.get(i + 1).and_then(|t| t.get(1..)?.parse().ok()).unwrap_or(0);
            let offset = args.get(i + 2).and_then(|o| match o.strip_prefix('#') {
                Some(n) => n.parse::<u64>().ok().map(|n| n.saturating_mul(width)),
                None => o.parse::<u64>().ok(),
            });
            offset.is_some_and(|o| o.saturating_add(width) / 8 >= MAX_GROWTH)
        }),
    }
}

/// The command as errors name it: `NAME`, or `NAME SUB` when the
/// subcommand decides the class (upper-cased, at most 64 bytes).
pub fn command_name(args: &[String]) -> String {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let has_sub = COMMANDS.iter().any(|(n, r)| *n == name && matches!(r, Rule::Sub(..)));
    let shown = match args.get(1) {
        Some(sub) if has_sub => format!("{name} {}", sub.to_ascii_uppercase()),
        _ => name,
    };
    let shown: String = shown.chars().map(|c| if c.is_control() { '?' } else { c }).collect();
    crate::caps::kit::text::truncate(&shown, 64).to_string()
}

/// The node a `REPLICAOF`/`SLAVEOF` would make the server replicate from
/// (`None` for `NO ONE` and for anything else): the host checks it is a
/// node of the target, since the server sends its `masterauth` there.
pub fn replicaof_node(args: &[String]) -> Option<(String, String)> {
    let name = args.first()?.to_ascii_uppercase();
    if name != "REPLICAOF" && name != "SLAVEOF" {
        return None;
    }
    let host = args.get(1).cloned().unwrap_or_default();
    let port = args.get(2).cloned().unwrap_or_default();
    if host.eq_ignore_ascii_case("no") && port.eq_ignore_ascii_case("one") {
        return None;
    }
    Some((host, port))
}

/// The arguments as the journal may show them: credentials are replaced by
/// `<redacted>` and long values are cut.
pub fn redacted_args(args: &[String]) -> Vec<String> {
    let name = args.first().map(|a| a.to_ascii_uppercase()).unwrap_or_default();
    let secret_from = match name.as_str() {
        "AUTH" | "HELLO" | "MIGRATE" | "ACL" => Some(1),
        // CONFIG SET requirepass/masterauth…, SENTINEL SET m auth-pass…,
        // SENTINEL CONFIG SET sentinel-pass…: everything after the subcommand.
        "SENTINEL" | "CONFIG"
            if args.iter().skip(1).any(|a| {
                let a = a.to_ascii_lowercase();
                a.contains("pass") || matches!(a.as_str(), "masterauth" | "masteruser" | "auth-user")
            }) =>
        {
            Some(2)
        }
        _ => None,
    };
    let mut shown: Vec<String> = args
        .iter()
        .take(MAX_JOURNALED_ARGS)
        .enumerate()
        .map(|(i, a)| match secret_from {
            Some(from) if i >= from => "<redacted>".to_string(),
            _ if a.len() > 256 => {
                format!("{}…({} bytes)", crate::caps::kit::text::truncate(a, 256), a.len())
            }
            _ => a.clone(),
        })
        .collect();
    if args.len() > MAX_JOURNALED_ARGS {
        shown.push(format!("…({} more arguments)", args.len() - MAX_JOURNALED_ARGS));
    }
    shown
}

/// Arguments of one command the journal shows (the rest are counted).
const MAX_JOURNALED_ARGS: usize = 32;

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<String> {
        args.iter().map(|a| a.to_string()).collect()
    }

    #[test]
    fn classes() {
        let class = |a: &[&str]| classify(&argv(a));
        assert_eq!(class(&["get", "k"]), CommandClass::Needs(RedisAccess::Read));
        assert_eq!(class(&["INFO", "replication"]), CommandClass::Needs(RedisAccess::Read));
        assert_eq!(class(&["incr", "k"]), CommandClass::Needs(RedisAccess::Write));
        assert_eq!(class(&["FLUSHALL"]), CommandClass::Needs(RedisAccess::Admin));
        assert_eq!(class(&["config", "get", "*"]), CommandClass::Needs(RedisAccess::Admin));
        assert_eq!(
            class(&["replicaof", "no", "one"]),
            CommandClass::Needs(RedisAccess::Admin)
        );
        assert_eq!(
            class(&["client", "kill", "id", "3"]),
            CommandClass::Needs(RedisAccess::Admin)
        );
        assert_eq!(class(&["client", "list"]), CommandClass::Needs(RedisAccess::Read));
        assert_eq!(class(&["NEWCOMMAND"]), CommandClass::Needs(RedisAccess::Admin));
        assert!(matches!(class(&["auth", "pw"]), CommandClass::Unsupported(_)));
    }

    #[test]
    fn dangerous_commands_are_admin_or_refused_in_any_case() {
        let class = |a: &[&str]| classify(&argv(a));
        let admin = CommandClass::Needs(RedisAccess::Admin);
        let read = CommandClass::Needs(RedisAccess::Read);
        let write = CommandClass::Needs(RedisAccess::Write);
        let refused = |a: &[&str]| matches!(class(a), CommandClass::Refused(_));
        // Sentinel's gossip channel (any Redis-reserved channel), not others.
        assert!(refused(&["PUBLISH", "__sentinel__:hello", "1,2,3"]));
        assert!(refused(&["spublish", "__sentinel__:hello", "x"]));
        assert!(refused(&["Publish", "__keyspace@0__:k", "del"]));
        assert_eq!(class(&["publish", "app-events", "x"]), write);
        // Other databases.
        for a in [
            &["select", "1"][..],
            &["SWAPDB", "0", "1"],
            &["move", "k", "1"],
            &["COPY", "a", "b", "db", "1"],
            &["copy", "a", "b", "REPLACE", "Db", "1"],
        ] {
            assert!(refused(a), "{a:?}");
        }
        assert_eq!(class(&["COPY", "a", "b", "REPLACE"]), write);
        assert_eq!(class(&["COPY", "db", "b"]), write, "a key named db is not the option");
        // Code, scripts, outbound connections, replication, DEBUG.
        for a in [
            &["EVAL", "return 1", "0"][..],
            &["evalsha", "abc", "0"],
            &["eval_ro", "return 1", "0"],
            &["FCALL", "f", "0"],
            &["fcall_ro", "f", "0"],
            &["SCRIPT", "load", "return 1"],
            &["FUNCTION", "LOAD", "#!lua name=x"],
            &["function", "restore", "payload"],
            &["MODULE", "LOAD", "/tmp/x.so"],
            &["module", "loadex", "/tmp/x.so"],
            &["MIGRATE", "10.0.0.1", "6379", "k", "0", "100"],
            &["CLUSTER", "MEET", "10.0.0.1", "6379"],
            &["SYNC"],
            &["psync", "?", "-1"],
            &["REPLCONF", "listening-port", "1"],
            &["DEBUG", "SLEEP", "0"],
            &["debug", "segfault"],
            &["ACL", "SETUSER", "evil", "on", ">pw", "+@all"],
            &["acl", "deluser", "default"],
            &["CONFIG", "SET", "dir", "/etc"],
            &["config", "set", "maxmemory", "1gb", "DBFILENAME", "x"],
        ] {
            assert!(refused(a), "{a:?}");
        }
        // Admin: blocking, reconfiguring or revealing.
        for a in [
            &["KEYS", "*"][..],
            &["RESTORE", "k", "0", "payload"],
            &["restore-asking", "k", "0", "payload"],
            &["CONFIG", "GET", "requirepass"],
            &["config", "Set", "maxmemory", "1gb"],
            &["CLIENT", "KILL", "ID", "1"],
            &["client", "pause", "100"],
            &["client", "newthing"],
            &["OBJECT", "newthing"],
            &["MEMORY", "PURGE"],
            &["SLOWLOG", "RESET"],
            &["ACL", "LIST"],
            &["acl", "getuser", "default"],
            &["SCRIPT", "FLUSH"],
            &["FAILOVER"],
            &["REPLICAOF", "NO", "ONE"],
            &["CLUSTER", "FAILOVER"],
            &["SENTINEL", "CONFIG", "GET", "*"],
            &["SENTINEL", "newthing"],
            &["FLUSHALL"],
            &["SHUTDOWN", "NOSAVE"],
        ] {
            assert_eq!(class(a), admin, "{a:?}");
        }
        // Sentinel: queries read, failover its own access, the rest refused.
        assert_eq!(class(&["sentinel", "masters"]), read);
        assert_eq!(class(&["SENTINEL", "get-master-addr-by-name", "m"]), read);
        assert_eq!(
            class(&["Sentinel", "Failover", "m"]),
            CommandClass::Needs(RedisAccess::SentinelFailover)
        );
        for sub in [
            "SET",
            "remove",
            "MONITOR",
            "reset",
            "FLUSHCONFIG",
            "simulate-failure",
            "is-master-down-by-addr",
            "DEBUG",
        ] {
            assert!(refused(&["SENTINEL", sub, "m"]), "{sub}");
        }
        assert!(refused(&["SENTINEL", "CONFIG", "SET", "resolve-hostnames", "yes"]));
        // Read subcommands stay read; protocol changers are unsupported.
        assert_eq!(class(&["object", "encoding", "k"]), read);
        assert_eq!(class(&["CLIENT", "LIST"]), read);
        assert_eq!(class(&["client", "info"]), read);
        assert_eq!(class(&["MODULE", "list"]), read);
        assert_eq!(class(&["SCAN", "0"]), read);
        for a in [
            &["SUBSCRIBE", "c"][..],
            &["monitor"],
            &["CLIENT", "REPLY", "OFF"],
            &["client", "tracking", "on"],
            &["RESET"],
            &["hello", "3"],
        ] {
            assert!(matches!(class(a), CommandClass::Unsupported(_)), "{a:?}");
        }
        // Blocking commands are classified like their non-blocking form.
        assert_eq!(class(&["BLPOP", "k", "0"]), write);
        assert_eq!(class(&["WAIT", "1", "0"]), read);
    }

    #[test]
    fn offsets_cannot_grow_a_string_past_the_cap() {
        let refused = |a: &[&str]| matches!(classify(&argv(a)), CommandClass::Refused(_));
        assert!(refused(&["SETRANGE", "k", "536870000", "x"]));
        assert!(refused(&["setbit", "k", "4294967295", "1"]));
        assert!(refused(&[
            "BITFIELD",
            "k",
            "GET",
            "u8",
            "0",
            "set",
            "u8",
            "#100000000",
            "1"
        ]));
        assert!(refused(&["bitfield", "k", "INCRBY", "i5", "4000000000", "1"]));
        assert_eq!(
            classify(&argv(&["SETRANGE", "k", "10", "abc"])),
            CommandClass::Needs(RedisAccess::Write)
        );
        assert_eq!(
            classify(&argv(&["SETBIT", "k", "7", "1"])),
            CommandClass::Needs(RedisAccess::Write)
        );
        assert_eq!(
            classify(&argv(&["BITFIELD", "k", "SET", "u8", "#3", "1"])),
            CommandClass::Needs(RedisAccess::Write)
        );
    }

    #[test]
    fn the_journal_shows_a_bounded_number_of_arguments() {
        let args: Vec<String> = std::iter::once("MSET".to_string())
            .chain((0..1000).map(|i| i.to_string()))
            .collect();
        let shown = redacted_args(&args);
        assert_eq!(shown.len(), 33);
        assert_eq!(shown[32], "…(969 more arguments)");
        assert_eq!(command_name(&argv(&["GET\u{1b}[2J"])), "GET?[2J");
    }

    #[test]
    fn replicaof_names_its_node_unless_no_one() {
        assert_eq!(replicaof_node(&argv(&["replicaof", "no", "one"])), None);
        assert_eq!(replicaof_node(&argv(&["SLAVEOF", "NO", "ONE"])), None);
        assert_eq!(
            replicaof_node(&argv(&["REPLICAOF", "10.0.0.9", "6379"])),
            Some(("10.0.0.9".into(), "6379".into()))
        );
        assert_eq!(replicaof_node(&argv(&["GET", "k"])), None);
    }

    #[test]
    fn errors_name_the_subcommand() {
        assert_eq!(command_name(&argv(&["config", "set", "x"])), "CONFIG SET");
        assert_eq!(command_name(&argv(&["get", "k"])), "GET");
        assert_eq!(command_name(&argv(&["sentinel", "remove", "m"])), "SENTINEL REMOVE");
    }

    #[test]
    fn secrets_are_redacted() {
        assert_eq!(
            redacted_args(&argv(&["AUTH", "user", "pw"])),
            ["AUTH", "<redacted>", "<redacted>"]
        );
        assert_eq!(
            redacted_args(&argv(&["config", "set", "requirepass", "pw"]))[3],
            "<redacted>"
        );
        assert_eq!(redacted_args(&argv(&["SET", "k", "v"])), ["SET", "k", "v"]);
        assert_eq!(
            redacted_args(&argv(&["SENTINEL", "SET", "m", "auth-pass", "pw"])),
            ["SENTINEL", "SET", "<redacted>", "<redacted>", "<redacted>"]
        );
        assert_eq!(
            redacted_args(&argv(&["config", "set", "masterauth", "pw"]))[3],
            "<redacted>"
        );
    }
}

#[cfg(test)]
mod properties {
    use super::super::commands::{CommandClass, COMMANDS};
    use super::super::RedisAccess;
    use super::{classify, command_name};
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(2000))]

        /// A command the table does not know needs `admin`, whatever its
        /// arguments; every argv gets a class and a printable name.
        #[test]
        fn an_unknown_command_needs_admin(name in "[A-Za-z]{1,12}", args in proptest::collection::vec(any::<String>(), 0..4)) {
            let argv: Vec<String> = std::iter::once(name.clone()).chain(args).collect();
            let class = classify(&argv);
            if !COMMANDS.iter().any(|(n, _)| n.eq_ignore_ascii_case(&name)) {
                prop_assert_eq!(class, CommandClass::Needs(RedisAccess::Admin));
            }
            prop_assert!(!command_name(&argv).chars().any(char::is_control));
        }

        /// Case never changes a command's class.
        #[test]
        fn case_never_changes_the_class(index in 0..COMMANDS.len(), upper in proptest::collection::vec(any::<bool>(), 32), arg in "[a-z]{0,8}") {
            let name = COMMANDS[index].0;
            let mixed: String = name.chars().zip(upper.iter().cycle()).map(|(c, &u)| if u { c.to_ascii_uppercase() } else { c.to_ascii_lowercase() }).collect();
            prop_assert_eq!(classify(&[mixed, arg.clone()]), classify(&[name.to_string(), arg]));
        }
    }
}
