//! A real SMTP server for tests that send e-mail: `tools/smtp-sink.py` (aiosmtpd) on a free
//! port of the loopback address, storing each message it accepts as one JSON line. Needs
//! `python3` with aiosmtpd (`tests/smtp-requirements.txt`, installed by `.ci/run`); without it
//! the tests fail saying how to install it: they never skip.

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gongkai::app::mailer::{Mail, MailError, Mailer};
use gongkai::config::{NotificationSettings, SmtpTls};

/// The pinned aiosmtpd, as CI installs it.
const REQUIREMENTS: &str = include_str!("../smtp-requirements.txt");
/// How long the sink may take to listen.
const READY_TIMEOUT: Duration = Duration::from_secs(20);

/// One message the sink accepted: the envelope, and the decoded subject and plain-text body
/// (line ends as `\n`).
#[derive(Debug, Clone, serde::Deserialize)]
pub struct Received {
    pub mail_from: String,
    pub rcpt_tos: Vec<String>,
    pub subject: String,
    pub body: String,
}

/// A running `tools/smtp-sink.py`; stopped when dropped.
pub struct SmtpSink {
    pub port: u16,
    child: Child,
    file: PathBuf,
    stderr: Arc<Mutex<String>>,
    _dir: tempfile::TempDir,
}

fn repository_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The requirement line of aiosmtpd (`aiosmtpd==1.4.6`).
fn aiosmtpd_requirement() -> &'static str {
    REQUIREMENTS
        .lines()
        .map(str::trim)
        .find(|l| l.starts_with("aiosmtpd"))
        .unwrap_or("aiosmtpd")
}

fn install_hint() -> String {
    format!(
        "the e-mail tests need python3 with aiosmtpd: `pip install {}` \
         (or `python3 -m pip install -r tests/smtp-requirements.txt`, as .ci/run does)",
        aiosmtpd_requirement()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("no free port on 127.0.0.1: {e}"))
}

/// Reads `from` to its end into `into` on a thread of its own, so the child never blocks on a
/// full pipe.
fn drain(mut from: impl Read + Send + 'static, into: Arc<Mutex<String>>) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = from.read(&mut buf) {
            if n == 0 {
                break;
            }
            if let Ok(mut s) = into.lock() {
                s.push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        }
    });
}

impl SmtpSink {
    /// Starts the sink on a free port and waits until it listens (20 s at most). Panics, naming
    /// the package to install, when python3 or aiosmtpd is missing.
    pub fn start() -> SmtpSink {
        let mut last = String::new();
        // The free port may be taken between the look and the bind: a few tries.
        for _ in 0..5 {
            match Self::try_start() {
                Ok(sink) => return sink,
                Err(why) if why.contains("address already in use") => last = why,
                Err(why) => panic!("{why}"),
            }
        }
        panic!("tools/smtp-sink.py found no free port: {last}")
    }

    fn try_start() -> Result<SmtpSink, String> {
        let dir = tempfile::tempdir().map_err(|e| format!("temporary folder: {e}"))?;
        let file = dir.path().join("received.jsonl");
        let port = free_port();
        let mut child = Command::new("python3")
            .arg(repository_root().join("tools/smtp-sink.py"))
            .arg(port.to_string())
            .arg(&file)
            .current_dir(repository_root())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("cannot run python3 ({e}); {}", install_hint()))?;
        let stderr = Arc::new(Mutex::new(String::new()));
        if let Some(err) = child.stderr.take() {
            drain(err, stderr.clone());
        }
        let (ready_tx, ready_rx) = mpsc::channel();
        if let Some(out) = child.stdout.take() {
            std::thread::spawn(move || {
                for line in BufReader::new(out).lines() {
                    match line {
                        Ok(l) if l.trim() == "ready" => {
                            let _ = ready_tx.send(());
                        }
                        Ok(_) => {}
                        Err(_) => break,
                    }
                }
            });
        }
        let mut sink = SmtpSink {
            port,
            child,
            file,
            stderr,
            _dir: dir,
        };
        let deadline = Instant::now() + READY_TIMEOUT;
        loop {
            match ready_rx.recv_timeout(Duration::from_millis(100)) {
                Ok(()) => return Ok(sink),
                Err(mpsc::RecvTimeoutError::Disconnected)
                | Err(mpsc::RecvTimeoutError::Timeout)
                    if sink.exited() =>
                {
                    // Let the stderr thread catch up with the child's last words.
                    std::thread::sleep(Duration::from_millis(200));
                    let err = sink.stderr_text();
                    if err.contains("No module named") || err.contains("aiosmtpd is missing") {
                        return Err(format!("{}; python3 said: {err}", install_hint()));
                    }
                    if err.to_ascii_lowercase().contains("address already in use") {
                        return Err(format!("address already in use: {err}"));
                    }
                    return Err(format!(
                        "tools/smtp-sink.py stopped before it listened on port {}: {err}",
                        sink.port
                    ));
                }
                Err(_) if Instant::now() >= deadline => {
                    return Err(format!(
                        "tools/smtp-sink.py did not listen on port {} within {} s: {}",
                        sink.port,
                        READY_TIMEOUT.as_secs(),
                        sink.stderr_text()
                    ));
                }
                Err(_) => {}
            }
        }
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }

    fn stderr_text(&self) -> String {
        self.stderr.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Every message received so far, in order.
    pub fn messages(&self) -> Vec<Received> {
        let text = match std::fs::read_to_string(&self.file) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => String::new(),
            Err(e) => panic!("cannot read {}: {e}", self.file.display()),
        };
        // Only whole lines: one being written is left for the next look.
        let complete = text.rfind('\n').map_or("", |end| &text[..end]);
        complete
            .lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| {
                serde_json::from_str(l).unwrap_or_else(|e| {
                    panic!("smtp-sink wrote a line that is not a message ({e}): {l}")
                })
            })
            .collect()
    }

    /// Waits until at least `n` messages arrived and returns them all; panics after `timeout`
    /// with what did arrive.
    pub fn wait_for(&self, n: usize, timeout: Duration) -> Vec<Received> {
        let deadline = Instant::now() + timeout;
        loop {
            let got = self.messages();
            if got.len() >= n {
                return got;
            }
            if Instant::now() >= deadline {
                panic!(
                    "the SMTP sink received {} of {n} messages within {timeout:?}: {got:#?}\nsink's stderr: {}",
                    got.len(),
                    self.stderr_text()
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn settings(sink: &SmtpSink, tls: SmtpTls) -> NotificationSettings {
    NotificationSettings {
        smtp_host: "127.0.0.1".into(),
        smtp_port: sink.port,
        smtp_from: "公开办 <gongkai@example.gov.cn>".into(),
        smtp_tls: tls,
        smtp_timeout_secs: 10,
        ..NotificationSettings::default()
    }
}

fn mailer(s: &NotificationSettings) -> Mailer {
    match Mailer::from_settings(s) {
        Ok(Some(m)) => m,
        Ok(None) => panic!("smtp_host is set: e-mail is on"),
        Err(e) => panic!("{e}"),
    }
}

#[test]
fn the_mailer_delivers_a_chinese_message_to_a_real_smtp_server() {
    let sink = SmtpSink::start();
    let mailer = mailer(&settings(&sink, SmtpTls::None));
    // Long enough that the encoded subject is folded over several encoded words, with spaces
    // and full-width punctuation that must survive the round trip.
    let subject = "期限提醒：3 件政府信息公开申请将在 3 个工作日内到期（截至 2026年12月18日）";
    let body = "张三同志：\n\n以下申请将在 3 个工作日内到期，请及时答复。\n\
                GK-2026-000123 「2025年度本局行政许可决定清单」 2026-12-18\n\n\
                —— gongkai 政府信息公开申请办理系统\n";
    let mail = Mail {
        to: vec![
            "张三 <zhang.san@example.gov.cn>".into(),
            "li.si@example.gov.cn".into(),
        ],
        subject: subject.into(),
        body: body.into(),
    };
    mailer.send(&mail).unwrap_or_else(|e| panic!("{e}"));

    let got = sink.wait_for(1, Duration::from_secs(10));
    assert_eq!(got.len(), 1, "one message for both recipients: {got:#?}");
    let m = &got[0];
    assert_eq!(m.mail_from, "gongkai@example.gov.cn");
    assert_eq!(
        m.rcpt_tos,
        ["zhang.san@example.gov.cn", "li.si@example.gov.cn"]
    );
    assert_eq!(m.subject, subject);
    assert_eq!(m.body, body);
    // Still one: nothing more arrives later.
    std::thread::sleep(Duration::from_millis(200));
    assert_eq!(sink.messages().len(), 1);
}

#[test]
fn starttls_against_a_server_without_it_is_an_error_and_sends_nothing() {
    let sink = SmtpSink::start();
    let mailer = mailer(&settings(&sink, SmtpTls::Starttls));
    let mail = Mail {
        to: vec!["zhang.san@example.gov.cn".into()],
        subject: "期限提醒".into(),
        body: "不应以明文发出。\n".into(),
    };
    match mailer.send(&mail) {
        Err(MailError::Transport(why)) => assert!(!why.is_empty()),
        other => panic!("STARTTLS is required and the sink does not offer it: {other:?}"),
    }
    std::thread::sleep(Duration::from_millis(200));
    assert!(sink.messages().is_empty(), "{:#?}", sink.messages());
}
