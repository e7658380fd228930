//! Hostile plugins: each test is an attack a signed plugin with a narrow
//! grant could try, run through the real binary (and, where the attack aims
//! at a service, against the lab's real service), asserting that it was
//! refused or contained, what the operator saw, the journal and the exit code.
//! One module per area.

mod disk;
mod docker;
mod postgres;
mod redis;
mod s3;
mod sandbox;
mod shell;
mod signing;
mod terminal;
mod vault;
