//! Hostile plugins: each test drives the real `drhost` binary with a plugin
//! that tries to get beyond its grants, and asserts what the operator sees,
//! what the journal says and what happened on the machine.

mod shell;
