//! `http`: health probes (GET) to hosts the operator allowed.
//!
//! The grant is a glob over `host:port`; redirects are not followed (a
//! redirect could leave the granted host); bodies are capped.

mod grant;
mod host;

pub use grant::{grant_lines, HttpGrant};
