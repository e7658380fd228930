//! Entry points for the fuzz targets in `fuzz/` (not part of drhost's API;
//! drhost itself uses none of this): the parsers and grant checks that a
//! config file, a registry or a plugin can feed, reachable from outside the
//! crate. Each is the function the host calls, or a thin wrapper around one
//! that is `pub(crate)`.

pub use crate::caps::compose::grant::check_service_name;
pub use crate::caps::docker::syntax::{
    check_image_reference, check_secret_name, parse_exec_env, Cidr, KeyPattern, MAX_EXEC_ENV,
};
pub use crate::caps::s3::grant::is_plain_key;
pub use crate::caps::shell::grant::{denial as shell_denial, grant_lines as shell_grant_lines};
pub use crate::check::check_text;

use crate::caps::files::path::RelPath;
use crate::caps::http::HttpGrant;
use crate::oci::OciRef;

/// A path a plugin names in a files target, as the host checks it before
/// any grant is asked: the path, and its directories and last name.
pub fn files_path(text: &str) -> Result<(String, Vec<String>, String), String> {
    let path = RelPath::parse(text)?;
    let (dirs, last) = path.split();
    Ok((
        path.as_str().to_string(),
        dirs.into_iter().map(str::to_string).collect(),
        last.to_string(),
    ))
}

/// Whether a listing walk enters directory `dir` for `globs`.
pub fn files_may_hold(globs: &[String], dir: &str) -> bool {
    crate::caps::files::grant::may_hold(globs.iter().map(String::as_str), dir)
}

/// The `http` capability's check of a URL a plugin asks for: the URL and
/// the `host:port` the grants were asked about, or the refusal.
pub fn http_check_url(grants: &[HttpGrant], plugin_id: &str, url: &str) -> Result<(String, String), String> {
    let parsed = crate::caps::http::client::check_url(grants, plugin_id, url).map_err(|e| e.to_string())?;
    let host_port = format!(
        "{}:{}",
        parsed.host_str().unwrap_or_default(),
        parsed.port_or_known_default().unwrap_or(80)
    );
    Ok((parsed.to_string(), host_port))
}

/// The registry URL an `oci://` reference becomes (`…/v2/REPOSITORY`).
pub fn oci_base(reference: &OciRef) -> String {
    reference.base()
}
