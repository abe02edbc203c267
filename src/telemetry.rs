//! Logging: text in development, JSON in production; the request id is a field of the request
//! span, so it is on every line logged while a request is handled.
//!
//! Every line passes through `MaskingWriter`, which masks identity numbers and credit codes
//! (`domain::identity::mask_identity_numbers`) whatever logged them; panics are logged through
//! the same path instead of the default hook's raw message.

use std::io::Write;

use tracing_subscriber::EnvFilter;
use tracing_subscriber::fmt::format::FmtSpan;

use crate::config::{LogFormat, LogSettings};
use crate::domain::identity::mask_identity_numbers;

/// Installs the global subscriber and the panic hook once; later calls (tests) are ignored.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env()
        .or_else(|_| EnvFilter::try_new(&settings.level))
        .unwrap_or_else(|_| EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_span_events(FmtSpan::NONE)
        .with_writer(|| MaskingWriter::new(std::io::stderr()));
    let installed = match settings.format {
        LogFormat::Json => builder
            .json()
            .with_current_span(true)
            .with_span_list(false)
            .try_init(),
        LogFormat::Text => builder.try_init(),
    };
    if installed.is_ok() {
        std::panic::set_hook(Box::new(|info| {
            let message = info
                .payload()
                .downcast_ref::<&str>()
                .map(|s| (*s).to_string())
                .or_else(|| info.payload().downcast_ref::<String>().cloned())
                .unwrap_or_else(|| "(no message)".into());
            let location = info
                .location()
                .map(|l| format!("{}:{}", l.file(), l.line()))
                .unwrap_or_default();
            tracing::error!(
                panic = %mask_identity_numbers(&message),
                location = %location,
                "panicked"
            );
        }));
    }
}

/// Collects one log line (the formatter writes each event to its own writer) and writes it
/// masked when dropped.
pub struct MaskingWriter<W: Write> {
    buf: Vec<u8>,
    inner: W,
}

impl<W: Write> MaskingWriter<W> {
    pub fn new(inner: W) -> Self {
        MaskingWriter {
            buf: Vec::with_capacity(256),
            inner,
        }
    }
}

impl<W: Write> Write for MaskingWriter<W> {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.buf.extend_from_slice(data);
        Ok(data.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for MaskingWriter<W> {
    fn drop(&mut self) {
        if self.buf.is_empty() {
            return;
        }
        let text = String::from_utf8_lossy(&self.buf);
        let _ = self
            .inner
            .write_all(mask_identity_numbers(&text).as_bytes());
        let _ = self.inner.flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn log_lines_are_written_masked() {
        let mut out = Vec::new();
        {
            let mut w = MaskingWriter::new(&mut out);
            // The formatter may write one line in pieces.
            let _ = w.write_all(b"request completed path=/api/v1/public/x query=id=1101011990");
            let _ = w.write_all(b"03071233&page=1\n");
        }
        let line = String::from_utf8(out).unwrap_or_default();
        assert_eq!(
            line,
            "request completed path=/api/v1/public/x query=id=110*************33&page=1\n"
        );
    }
}
