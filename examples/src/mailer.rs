//! Email: built with `lettre`, sent over SMTP when `SMTP_URL` is set, otherwise written as
//! `.eml` files into an outbox folder (what a developer wants on their laptop).

use std::path::PathBuf;

use lettre::message::{header::ContentType, Mailbox};
use lettre::{AsyncFileTransport, AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};

/// Where mail goes.
#[derive(Clone)]
pub enum Mailer {
    /// An SMTP server.
    Smtp(AsyncSmtpTransport<Tokio1Executor>),
    /// `.eml` files in a folder.
    Outbox(PathBuf),
}

impl std::fmt::Debug for Mailer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Mailer::Smtp(_) => f.write_str("Mailer::Smtp"),
            Mailer::Outbox(dir) => write!(f, "Mailer::Outbox({})", dir.display()),
        }
    }
}

/// Mail could not be built or sent.
#[derive(Debug, thiserror::Error)]
pub enum MailError {
    /// The message is invalid (e.g. a malformed address): retrying will not help.
    #[error("invalid email: {0}")]
    Invalid(String),
    /// The transport failed (SMTP down, disk full): worth retrying.
    #[error("could not send email: {0}")]
    Transport(String),
}

impl MailError {
    /// The step error for this failure: an invalid message fails the step at once
    /// (non-retriable: every attempt would fail the same way), a transport failure is retried.
    pub fn into_step_error(self) -> hookflow::Error {
        match self {
            MailError::Invalid(_) => hookflow::Error::non_retriable(self),
            MailError::Transport(_) => self.into(),
        }
    }
}

/// An email to send.
#[derive(Debug, Clone)]
pub struct Email {
    /// The recipient's address.
    pub to: String,
    /// The recipient's name, when known.
    pub to_name: Option<String>,
    /// The subject.
    pub subject: String,
    /// The plain-text body.
    pub body: String,
}

impl Mailer {
    /// From the environment: `SMTP_URL` (e.g. `smtp://localhost:1025`, `smtps://user:pass@host`)
    /// or else `OUTBOX_DIR` (default `./outbox`).
    pub fn from_env() -> Result<Self, MailError> {
        match std::env::var("SMTP_URL").ok().filter(|u| !u.is_empty()) {
            Some(url) => AsyncSmtpTransport::<Tokio1Executor>::from_url(&url)
                .map(|b| Mailer::Smtp(b.build()))
                .map_err(|e| MailError::Invalid(format!("SMTP_URL `{url}`: {e}"))),
            None => {
                let dir = PathBuf::from(std::env::var("OUTBOX_DIR").unwrap_or_else(|_| "outbox".into()));
                std::fs::create_dir_all(&dir)
                    .map_err(|e| MailError::Transport(format!("cannot create {}: {e}", dir.display())))?;
                Ok(Mailer::Outbox(dir))
            }
        }
    }

    /// Where mail goes, for the start-up banner.
    pub fn describe(&self) -> String {
        match self {
            Mailer::Smtp(_) => "SMTP (SMTP_URL)".into(),
            Mailer::Outbox(dir) => format!(".eml files in {}", dir.display()),
        }
    }

    /// Sends one email from `from`.
    pub async fn send(&self, from: &str, email: Email) -> Result<(), MailError> {
        let from: Mailbox = from.parse().map_err(|e| MailError::Invalid(format!("from address `{from}`: {e}")))?;
        let to = Mailbox::new(
            email.to_name.clone(),
            email.to.parse().map_err(|e| MailError::Invalid(format!("recipient `{}`: {e}", email.to)))?,
        );
        let message = Message::builder()
            .from(from)
            .to(to)
            .subject(email.subject)
            .header(ContentType::TEXT_PLAIN)
            .body(email.body)
            .map_err(|e| MailError::Invalid(e.to_string()))?;
        match self {
            Mailer::Smtp(transport) => {
                transport.send(message).await.map(drop).map_err(|e| MailError::Transport(e.to_string()))
            }
            Mailer::Outbox(dir) => AsyncFileTransport::<Tokio1Executor>::new(dir)
                .send(message)
                .await
                .map(drop)
                .map_err(|e| MailError::Transport(e.to_string())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn email(to: &str) -> Email {
        Email { to: to.into(), to_name: None, subject: "Hi".into(), body: "Hello".into() }
    }

    #[tokio::test]
    async fn an_invalid_address_fails_the_step_at_once_and_a_transport_failure_is_retried() {
        let dir = tempfile::tempdir().expect("dir");
        let mailer = Mailer::Outbox(dir.path().to_owned());
        let error = mailer.send("Team <team@example.com>", email("not an address")).await.expect_err("invalid");
        assert!(matches!(error, MailError::Invalid(_)), "{error}");
        let step_error = error.into_step_error();
        assert_eq!(step_error.retry(), hookflow::Retry::Never);
        assert!(step_error.message().contains("not an address"), "{}", step_error.message());

        let gone = Mailer::Outbox(dir.path().join("missing/outbox"));
        let error = gone.send("team@example.com", email("ada@example.com")).await.expect_err("no such folder");
        assert!(matches!(error, MailError::Transport(_)), "{error}");
        assert_eq!(error.into_step_error().retry(), hookflow::Retry::Backoff);
        mailer.send("team@example.com", email("ada@example.com")).await.expect("a valid email is written");
    }
}
