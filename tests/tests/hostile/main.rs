//! Hostile tests: a signed plugin with a narrow grant tries, as an attacker
//! would, to do more than the operator granted — through the real binary and
//! the lab's real services. Each area has its own module.

mod docker;
