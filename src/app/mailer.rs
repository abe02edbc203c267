//! Outgoing e-mail over SMTP (`notifications.*`): plain-text messages in UTF-8, handed to one
//! SMTP server. Blocking (lettre's `SmtpTransport`): callers run [`Mailer::send`] on the
//! blocking pool, never on an async worker.

use std::time::Duration;

use lettre::message::Mailbox;
use lettre::message::header::ContentType;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{Message, SmtpTransport, Transport};

use crate::config::{NotificationSettings, SmtpTls};
use crate::domain::text::Text;

/// The SMTP server messages are handed to, and the sender they carry.
pub struct Mailer {
    transport: SmtpTransport,
    from: Mailbox,
}

/// One message: the same plain text to every recipient.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    /// Addresses (`a@example.gov.cn`, or `张三 <a@example.gov.cn>`).
    pub to: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// Why a message was not sent. `Display` is the English, for logs; [`MailError::text`] has
/// both languages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MailError {
    /// A recipient is not an e-mail address; nothing was sent.
    #[error("invalid e-mail address {address:?}: {reason}")]
    InvalidAddress { address: String, reason: String },
    /// The message has no recipient; nothing was sent.
    #[error("the message has no recipient")]
    NoRecipients,
    /// The message could not be put together; nothing was sent.
    #[error("the message could not be built: {0}")]
    Message(String),
    /// The SMTP server could not be reached, or refused the message (connection, TLS, login,
    /// or a refusal of the sender, a recipient or the content).
    #[error("the SMTP server did not accept the message: {0}")]
    Transport(String),
}

impl MailError {
    /// The failure for people, Chinese first.
    pub fn text(&self) -> Text {
        match self {
            MailError::InvalidAddress { address, reason } => crate::text!(
                "电子邮件地址 {address:?} 无效：{reason}",
                "invalid e-mail address {address:?}: {reason}"
            ),
            MailError::NoRecipients => {
                crate::text!("邮件没有收件人", "the message has no recipient")
            }
            MailError::Message(why) => crate::text!(
                "邮件无法生成：{why}",
                "the message could not be built: {why}"
            ),
            MailError::Transport(why) => crate::text!(
                "邮件服务器未接收邮件：{why}",
                "the SMTP server did not accept the message: {why}"
            ),
        }
    }
}

/// An address as a mailbox (`a@example.gov.cn` or `名称 <a@example.gov.cn>`).
pub fn parse_mailbox(address: &str) -> Result<Mailbox, MailError> {
    address
        .trim()
        .parse::<Mailbox>()
        .map_err(|e| MailError::InvalidAddress {
            address: address.to_string(),
            reason: e.to_string(),
        })
}

impl Mailer {
    /// The mailer of the settings; `None` when `smtp_host` is empty (e-mail off). Nothing is
    /// connected yet: each [`Mailer::send`] opens its own connection.
    pub fn from_settings(s: &NotificationSettings) -> Result<Option<Mailer>, String> {
        let host = s.smtp_host.trim();
        if host.is_empty() {
            return Ok(None);
        }
        let from =
            parse_mailbox(&s.smtp_from).map_err(|e| format!("notifications.smtp_from: {e}"))?;
        if s.smtp_port == 0 {
            return Err("notifications.smtp_port must be positive".into());
        }
        let builder = match s.smtp_tls {
            SmtpTls::Starttls => SmtpTransport::starttls_relay(host),
            SmtpTls::Tls => SmtpTransport::relay(host),
            SmtpTls::None => Ok(SmtpTransport::builder_dangerous(host)),
        }
        .map_err(|e| format!("notifications.smtp_host {host:?}: {e}"))?;
        let mut builder = builder
            .port(s.smtp_port)
            .timeout(Some(Duration::from_secs(s.smtp_timeout_secs)));
        let user = s
            .smtp_username
            .as_deref()
            .map(str::trim)
            .filter(|u| !u.is_empty());
        match (user, &s.smtp_password) {
            (Some(user), password) => {
                builder = builder.credentials(Credentials::new(
                    user.to_string(),
                    password.clone().unwrap_or_default(),
                ));
            }
            (None, Some(_)) => {
                return Err(
                    "notifications.smtp_password is set without notifications.smtp_username".into(),
                );
            }
            (None, None) => {}
        }
        Ok(Some(Mailer {
            transport: builder.build(),
            from,
        }))
    }

    /// The sender of every message.
    pub fn from(&self) -> &Mailbox {
        &self.from
    }

    /// Blocking: sends one message (plain text, UTF-8; a Chinese subject is encoded as RFC 2047
    /// encoded words) to all its recipients in one SMTP transaction. Every address is checked
    /// before the server is contacted.
    pub fn send(&self, mail: &Mail) -> Result<(), MailError> {
        let message = self.message(mail)?;
        self.transport
            .send(&message)
            .map(|_| ())
            .map_err(|e| MailError::Transport(e.to_string()))
    }

    fn message(&self, mail: &Mail) -> Result<Message, MailError> {
        if mail.to.is_empty() {
            return Err(MailError::NoRecipients);
        }
        let mut builder = Message::builder()
            .from(self.from.clone())
            .subject(mail.subject.as_str())
            .header(ContentType::TEXT_PLAIN);
        for address in &mail.to {
            builder = builder.to(parse_mailbox(address)?);
        }
        builder
            .body(mail.body.clone())
            .map_err(|e| MailError::Message(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(host: &str) -> NotificationSettings {
        NotificationSettings {
            smtp_host: host.into(),
            smtp_port: 2525,
            smtp_tls: SmtpTls::None,
            ..NotificationSettings::default()
        }
    }

    fn mailer() -> Mailer {
        match Mailer::from_settings(&settings("127.0.0.1")) {
            Ok(Some(m)) => m,
            Ok(None) => panic!("a host is set: e-mail is on"),
            Err(e) => panic!("{e}"),
        }
    }

    #[test]
    fn no_host_means_no_mailer() {
        assert!(matches!(
            Mailer::from_settings(&NotificationSettings::default()),
            Ok(None)
        ));
        assert!(matches!(Mailer::from_settings(&settings("  ")), Ok(None)));
    }

    #[test]
    fn every_kind_of_connection_is_built_without_contacting_the_server() {
        for tls in [SmtpTls::Starttls, SmtpTls::Tls, SmtpTls::None] {
            let s = NotificationSettings {
                smtp_tls: tls,
                smtp_username: Some("gongkai".into()),
                smtp_password: Some("secret".into()),
                ..settings("smtp.example.gov.cn")
            };
            assert!(matches!(Mailer::from_settings(&s), Ok(Some(_))), "{tls:?}");
        }
    }

    #[test]
    fn the_settings_are_refused_with_the_key_named() {
        let bad_from = NotificationSettings {
            smtp_from: "gongkai".into(),
            ..settings("127.0.0.1")
        };
        let e = Mailer::from_settings(&bad_from).err().unwrap_or_default();
        assert!(e.contains("notifications.smtp_from"), "{e}");
        let password_alone = NotificationSettings {
            smtp_password: Some("secret".into()),
            ..settings("127.0.0.1")
        };
        let e = Mailer::from_settings(&password_alone)
            .err()
            .unwrap_or_default();
        assert!(e.contains("smtp_username"), "{e}");
        let no_port = NotificationSettings {
            smtp_port: 0,
            ..settings("127.0.0.1")
        };
        assert!(Mailer::from_settings(&no_port).is_err());
    }

    #[test]
    fn addresses_parse_with_or_without_a_name() {
        let m = parse_mailbox("公开办 <gongkai@example.gov.cn>").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.email.to_string(), "gongkai@example.gov.cn");
        assert_eq!(m.name.as_deref(), Some("公开办"));
        let m = parse_mailbox(" zhang.san@example.gov.cn ").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(m.email.to_string(), "zhang.san@example.gov.cn");
        for bad in [
            "",
            "zhang.san",
            "@example.gov.cn",
            "a@",
            "a b@example.gov.cn",
        ] {
            assert!(
                matches!(parse_mailbox(bad), Err(MailError::InvalidAddress { .. })),
                "{bad:?}"
            );
        }
    }

    #[test]
    fn a_bad_recipient_is_refused_before_the_server_is_contacted() {
        // Nothing listens on the configured port: a connection attempt would be a transport
        // error, not these.
        let m = mailer();
        let mail = Mail {
            to: vec!["a@example.gov.cn".into(), "not an address".into()],
            subject: "期限提醒".into(),
            body: "正文".into(),
        };
        match m.send(&mail) {
            Err(MailError::InvalidAddress { address, .. }) => assert_eq!(address, "not an address"),
            other => panic!("{other:?}"),
        }
        let none = Mail {
            to: Vec::new(),
            ..mail
        };
        assert_eq!(m.send(&none), Err(MailError::NoRecipients));
    }

    #[test]
    fn a_message_is_utf8_plain_text_with_an_encoded_chinese_subject() {
        let m = mailer();
        let mail = Mail {
            to: vec!["张三 <a@example.gov.cn>".into(), "b@example.gov.cn".into()],
            subject: "期限提醒：3 件申请即将到期".into(),
            body: "以下申请将在 3 个工作日内到期。\n".into(),
        };
        let message = m.message(&mail).unwrap_or_else(|e| panic!("{e}"));
        let raw = String::from_utf8(message.formatted()).unwrap_or_else(|e| panic!("{e}"));
        let headers = raw.split("\r\n\r\n").next().unwrap_or_default();
        assert!(headers.is_ascii(), "headers are 7-bit: {headers}");
        assert!(headers.contains("Subject: =?utf-8?"), "{headers}");
        assert!(
            headers.contains("Content-Type: text/plain; charset=utf-8"),
            "{headers}"
        );
        assert_eq!(message.envelope().to().len(), 2);
        assert_eq!(
            message.envelope().from().map(|a| a.to_string()).as_deref(),
            Some("gongkai@localhost")
        );
    }

    #[test]
    fn a_failure_reads_in_both_languages() {
        let e = MailError::Transport("connection refused".into());
        assert_eq!(
            e.to_string(),
            "the SMTP server did not accept the message: connection refused"
        );
        assert_eq!(
            e.text().zh(),
            Some("邮件服务器未接收邮件：connection refused")
        );
    }
}
