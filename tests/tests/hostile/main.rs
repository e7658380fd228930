//! Hostile plugins with narrow grants against the real binary and the lab's
//! real services (security issue 11): each test is an attack that must be
//! refused, and asserts the real service did not change.

mod redis;
