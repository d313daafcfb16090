//! The generated Clerk signing secret for local development, kept in `.hookflow/dev-secret`:
//! an app serving on loopback without `CLERK_WEBHOOK_SIGNING_SECRET` verifies with it, and
//! `hookflow clerk send` signs with it. It lives with the webhook, not the CLI, so that an app
//! built without the `cli` feature finds the same secret.

use std::path::{Path, PathBuf};

use super::clerk::SECRET_ENV;
use super::svix::Secret;

/// Where the generated dev secret is kept, relative to the directory the app or the
/// `hookflow` command runs in.
pub const DEV_SECRET_FILE: &str = ".hookflow/dev-secret";

/// The dev secret's file could not be read or written.
#[derive(Debug, thiserror::Error)]
#[error("could not read `{}`: {source}", path.display())]
pub struct DevSecretError {
    /// The file (or the directory that could not be created).
    pub path: PathBuf,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The Clerk signing secret for local development: `CLERK_WEBHOOK_SIGNING_SECRET` when set,
/// else the one kept in `<dir>/.hookflow/dev-secret`, generated (and saved there) the first time,
/// where `hookflow clerk send` finds it. The flag says whether it is a dev secret.
pub fn dev_secret(dir: &Path) -> Result<(String, bool), DevSecretError> {
    if let Some(secret) = std::env::var(SECRET_ENV).ok().filter(|s| !s.trim().is_empty()) {
        return Ok((secret, false));
    }
    let path = dir.join(DEV_SECRET_FILE);
    match std::fs::read_to_string(&path) {
        Ok(existing) if !existing.trim().is_empty() => return Ok((existing.trim().to_owned(), true)),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(source) => return Err(DevSecretError { path, source }),
    }
    let secret = Secret::generate();
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|source| DevSecretError { path: parent.to_owned(), source })?;
    }
    std::fs::write(&path, &secret).map_err(|source| DevSecretError { path: path.clone(), source })?;
    Ok((secret, true))
}
