//! Documents on file (issue 13 item 8): an application's papers — the letter and its
//! envelope, identity copies, correction material, proofs of service, the signed reply —
//! uploaded, listed and downloaded, scoped like the application.
//!
//! An upload streams into a temporary file of the documents folder while it is hashed and
//! counted (`Upload`), is recognised from its content (`sniff`), is put under its SHA-256, and
//! only then gets its row and audit event in one transaction. Nothing is overwritten or
//! deleted: a new version is a new document that names the one it supersedes. A download
//! checks the SHA-256 before the first byte is sent, and again while sending.

use chrono::NaiveDateTime;
use futures_util::stream::BoxStream;
use serde_json::json;
use tokio::sync::mpsc;

use super::idempotency::{Answer, Answering};
use super::{AppError, AppState, Page, Paged, RequestContext, audit};
use crate::blobstore::{self, BlobStore, Check, Staged, Staging};
use crate::db::{self, DbConnection, documents::DocumentRow};
use crate::domain::access::{Actor, Role};
use crate::domain::document::{self, DocumentKind, FileType, Magic};
use crate::domain::validation::{Errors, FieldError};

/// A document as the use cases hand it out.
#[derive(Debug, Clone)]
pub struct DocumentView {
    pub id: String,
    pub request_id: String,
    pub agency_id: String,
    pub kind: String,
    pub name: String,
    pub media_type: String,
    pub size: i64,
    pub sha256: String,
    pub note: Option<String>,
    pub supersedes: Option<String>,
    /// The later version that replaced this one, if any.
    pub superseded_by: Option<String>,
    pub version: i32,
    pub uploaded_by: String,
    pub uploaded_at: NaiveDateTime,
}

impl DocumentView {
    fn from_row(r: DocumentRow, superseded_by: Option<String>) -> Self {
        DocumentView {
            id: r.id,
            request_id: r.request_id,
            agency_id: r.agency_id,
            kind: r.kind,
            name: r.name,
            media_type: r.media_type,
            size: r.size_bytes,
            sha256: r.sha256,
            note: r.note,
            supersedes: r.supersedes,
            superseded_by,
            version: r.version,
            uploaded_by: r.uploaded_by,
            uploaded_at: r.uploaded_at,
        }
    }
}

/// The form fields of an upload besides the file, as sent.
#[derive(Debug, Clone, Default)]
pub struct UploadInput {
    pub kind: Option<String>,
    pub note: Option<String>,
    pub supersedes: Option<String>,
    /// The file name the client gave (`filename` of the part).
    pub file_name: Option<String>,
}

/// Longest note, in characters.
pub const MAX_NOTE_CHARS: usize = 2000;
/// Longest file name kept, in characters.
pub const MAX_NAME_CHARS: usize = 255;

/// Uploading is for clerks, approvers and admins (as for the application's steps);
/// supervisors read.
fn may_write(actor: &Actor) -> Result<(), AppError> {
    if actor.has(Role::Clerk) || actor.has(Role::Approver) || actor.has(Role::Admin) {
        Ok(())
    } else {
        Err(AppError::Forbidden {
            code: "forbidden",
            detail: crate::text!(
                "上传申请材料需要经办人、审批人或管理员角色",
                "uploading documents needs the role clerk, approver or admin"
            ),
        })
    }
}

/// The agency of an application the actor sees — or, to upload, handles ([`super::Reach`]);
/// anything else is "not found" (a supervisor above it: 403 `not_own_agency`).
fn visible_request(
    conn: &mut DbConnection,
    actor: &Actor,
    request_id: &str,
    how: super::Reach,
) -> Result<String, AppError> {
    let what = || crate::text!("申请", "application");
    let agency_id =
        db::requests::agency_of(conn, request_id)?.ok_or_else(|| AppError::NotFound(what()))?;
    let agency = db::agencies::find(conn, &agency_id)?.ok_or_else(|| AppError::NotFound(what()))?;
    how.check(actor, &agency.id, &agency.path, what())?;
    Ok(agency.id)
}

fn visible_document(
    conn: &mut DbConnection,
    actor: &Actor,
    id: &str,
) -> Result<DocumentRow, AppError> {
    let row = db::documents::find(conn, id)?
        .ok_or(AppError::NotFound(crate::text!("材料", "document")))?;
    let agency = db::agencies::find(conn, &row.agency_id)?
        .ok_or(AppError::NotFound(crate::text!("材料", "document")))?;
    if actor.sees(&agency.id, &agency.path) {
        Ok(row)
    } else {
        Err(AppError::NotFound(crate::text!("材料", "document")))
    }
}

/// Refuses an upload the actor may not make before its body is read: another agency's
/// application (404), or a role that only reads (403).
pub async fn check_upload(
    state: &AppState,
    actor: &Actor,
    request_id: String,
) -> Result<(), AppError> {
    let actor = actor.clone();
    state
        .with_conn(move |conn| {
            // Unseen: 404; a role that only reads: 403 `forbidden`; seen but another agency's
            // to handle: 403 `not_own_agency` (as every other write).
            visible_request(conn, &actor, &request_id, super::Reach::Read)?;
            may_write(&actor)?;
            visible_request(conn, &actor, &request_id, super::Reach::Handle).map(|_| ())
        })
        .await
}

/// A file being received: chunks go through a small bounded channel to a writer on the
/// blocking pool, which hashes and writes them, so memory holds a few chunks whatever the size.
pub struct Upload<C> {
    tx: mpsc::Sender<C>,
    writer: tokio::task::JoinHandle<std::io::Result<Staging>>,
    size: u64,
}

/// A received file, synced to disk, not yet kept (dropped: removed).
pub struct Received(Staged);

impl Received {
    pub fn size(&self) -> u64 {
        self.0.size
    }

    /// SHA-256 of the content, lowercase hex.
    pub fn sha256(&self) -> &str {
        &self.0.sha256
    }
}

impl<C: AsRef<[u8]> + Send + 'static> Upload<C> {
    /// Starts a temporary file in the documents folder.
    pub fn begin(state: &AppState) -> Result<Upload<C>, AppError> {
        let staging = state
            .documents
            .stage()
            .map_err(|e| AppError::internal_while("creating an upload file", e))?;
        // Four chunks in flight at most: backpressure reaches the client's connection.
        let (tx, mut rx) = mpsc::channel::<C>(4);
        let writer = tokio::task::spawn_blocking(move || {
            let mut staging = staging;
            while let Some(chunk) = rx.blocking_recv() {
                staging.write(chunk.as_ref())?;
            }
            Ok(staging)
        });
        Ok(Upload {
            tx,
            writer,
            size: 0,
        })
    }

    /// Bytes received so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    pub async fn write(&mut self, chunk: C) -> Result<(), AppError> {
        self.size += chunk.as_ref().len() as u64;
        if self.tx.send(chunk).await.is_err() {
            // The writer stopped: its error is the cause.
            return Err(match (&mut self.writer).await {
                Ok(Err(e)) => AppError::internal_while("writing an upload", e),
                Ok(Ok(_)) => AppError::bug("the upload writer stopped early"),
                Err(e) => AppError::internal_while("the upload writer failed", e),
            });
        }
        Ok(())
    }

    /// Waits for the writer and syncs the file.
    pub async fn finish(self) -> Result<Received, AppError> {
        let Upload { tx, writer, .. } = self;
        drop(tx);
        let staging = writer
            .await
            .map_err(|e| AppError::internal_while("the upload writer failed", e))?
            .map_err(|e| AppError::internal_while("writing an upload", e))?;
        let staged = tokio::task::spawn_blocking(move || staging.finish())
            .await
            .map_err(|e| AppError::internal_while("the upload writer failed", e))?
            .map_err(|e| AppError::internal_while("syncing an upload", e))?;
        Ok(Received(staged))
    }

    /// Gives the upload up: the temporary file is gone when this returns.
    pub async fn abort(self) {
        let Upload { tx, writer, .. } = self;
        drop(tx);
        if let Ok(Ok(staging)) = writer.await {
            let _ = tokio::task::spawn_blocking(move || drop(staging)).await;
        }
    }
}

/// Recognises the file type from the content: the leading bytes, and for a ZIP the names in
/// its central directory. What the client declared is not asked.
fn sniff(staged: &Staged) -> Result<Option<FileType>, std::io::Error> {
    match document::magic(&staged.head(8)?) {
        Magic::Known(t) => Ok(Some(t)),
        Magic::Unknown => Ok(None),
        Magic::Zip => Ok(staged
            .zip_names()?
            .and_then(|(names, word)| document::zip_type(names.iter().map(String::as_str), word))),
    }
}

/// The file name as kept: its last path segment (browsers may send `C:\fakepath\…`), without
/// control characters; the kind and type when none was given.
fn file_name(given: Option<&str>, kind: DocumentKind, t: FileType) -> Result<String, FieldError> {
    let base = given
        .map(|n| n.rsplit(['/', '\\']).next().unwrap_or("").trim())
        .filter(|n| !n.is_empty() && *n != "." && *n != "..");
    let Some(name) = base else {
        return Ok(format!("{}.{}", kind.code(), t.extension()));
    };
    if name.chars().any(char::is_control) {
        return Err(FieldError::new(
            "file",
            "invalid_characters",
            crate::text!(
                "文件名含有控制字符",
                "the file name contains control characters"
            ),
        ));
    }
    if name.chars().count() > MAX_NAME_CHARS {
        return Err(FieldError::new(
            "file",
            "too_long",
            crate::text!(
                "文件名最多 {MAX_NAME_CHARS} 个字符",
                "the file name has at most {MAX_NAME_CHARS} characters"
            ),
        ));
    }
    Ok(name.to_string())
}

struct Checked {
    kind: DocumentKind,
    note: Option<String>,
    supersedes: Option<String>,
}

fn check_fields(input: &UploadInput) -> (Option<Checked>, Errors) {
    let mut errors = Errors::new();
    let kind = match input.kind.as_deref().map(str::trim) {
        None | Some("") => {
            errors.push(FieldError::new(
                "kind",
                "required",
                crate::text!("请选择材料类型", "kind is required"),
            ));
            None
        }
        Some(k) => match DocumentKind::parse(k) {
            Some(k) => Some(k),
            None => {
                errors.push(FieldError::new(
                    "kind",
                    "unknown_code",
                    crate::text!(
                        "未知的材料类型 {k:?}；须为以下之一：{}",
                        "unknown kind {k:?}; one of {}",
                        DocumentKind::ALL.map(DocumentKind::code).join(", ")
                    ),
                ));
                None
            }
        },
    };
    let note = input
        .note
        .as_deref()
        .map(str::trim)
        .filter(|n| !n.is_empty());
    if let Some(n) = note {
        if n.chars().count() > MAX_NOTE_CHARS {
            errors.push(FieldError::new(
                "note",
                "too_long",
                crate::text!(
                    "备注最多 {MAX_NOTE_CHARS} 个字符",
                    "at most {MAX_NOTE_CHARS} characters"
                ),
            ));
        } else if n
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t')
        {
            errors.push(FieldError::new(
                "note",
                "invalid_characters",
                crate::text!("备注含有控制字符", "the note contains control characters"),
            ));
        }
    }
    let supersedes = input
        .supersedes
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    if let Some(s) = supersedes
        && uuid::Uuid::parse_str(s).is_err()
    {
        errors.push(FieldError::new(
            "supersedes",
            "invalid_format",
            crate::text!(
                "须为本申请某一材料的 id",
                "must be the id of a document of this application"
            ),
        ));
    }
    let checked = kind.map(|kind| Checked {
        kind,
        note: note.map(str::to_string),
        supersedes: supersedes.map(|s| s.to_ascii_lowercase()),
    });
    (checked, errors)
}

fn already_superseded() -> AppError {
    AppError::conflict(
        "document_already_superseded",
        crate::text!(
            "该材料已有新版本，请以最新版本为替换对象",
            "this document already has a later version; supersede the latest one"
        ),
    )
}

/// The version of the document a new upload supersedes: one of the same application.
fn superseded_version(
    conn: &mut DbConnection,
    request_id: &str,
    old_id: &str,
) -> Result<i32, AppError> {
    match db::documents::find(conn, old_id)? {
        Some(old) if old.request_id == request_id => {
            // Versions form a line: only the latest may be superseded (the unique index on
            // `supersedes` settles a race between two processes).
            if !db::documents::successors(conn, std::slice::from_ref(&old.id))?.is_empty() {
                return Err(already_superseded());
            }
            Ok(old.version)
        }
        _ => Err(AppError::field(
            "supersedes",
            "unknown_document",
            crate::text!(
                "本申请没有此材料",
                "no document of this application has this id"
            ),
        )),
    }
}

/// Keeps a received file as a document of the application: checks the fields and the
/// content type, puts the blob under its hash, then writes the row and its audit event in one
/// transaction. A refused upload leaves nothing behind.
pub async fn create(
    state: &AppState,
    actor: Actor,
    request_id: String,
    input: UploadInput,
    received: Received,
    ctx: RequestContext,
    once: Answering<DocumentView>,
) -> Result<Answer, AppError> {
    may_write(&actor)?;
    let (checked, mut errors) = check_fields(&input);
    let Received(staged) = received;
    let (staged, file_type) = tokio::task::spawn_blocking(move || {
        let t = sniff(&staged);
        (staged, t)
    })
    .await
    .map_err(|e| AppError::internal_while("recognising an upload", e))?;
    let file_type = file_type.map_err(|e| AppError::internal_while("reading an upload", e))?;
    if file_type.is_none() {
        errors.push(FieldError::new(
            "file",
            "unsupported_document_type",
            crate::text!(
                "只接受 PDF、JPEG、PNG、OFD 和 DOCX 文件（按内容识别）",
                "only PDF, JPEG, PNG, OFD and DOCX files are kept, recognised by their content"
            ),
        ));
    }
    let name = match (&checked, file_type) {
        (Some(c), Some(t)) => errors.take(file_name(input.file_name.as_deref(), c.kind, t)),
        _ => None,
    };
    let (Some(checked), Some(file_type), Some(name), true) =
        (checked, file_type, name, errors.is_empty())
    else {
        return Err(AppError::Validation(errors.into_vec()));
    };
    // The version it replaces, checked before the blob is kept so that a refusal leaves no
    // orphan (the transaction checks again). Not for a keyed request: a retry of an upload
    // that superseded a document must reach its stored answer, not meet its own successor.
    if once.key.is_none() {
        let (a, r, s) = (
            actor.clone(),
            request_id.clone(),
            checked.supersedes.clone(),
        );
        state
            .with_conn(move |conn| {
                visible_request(conn, &a, &r, super::Reach::Handle)?;
                match s {
                    Some(old) => superseded_version(conn, &r, &old).map(|_| ()),
                    None => Ok(()),
                }
            })
            .await?;
    }
    let sha256 = staged.sha256.clone();
    let size = i64::try_from(staged.size).map_err(AppError::internal)?;
    let store: BlobStore = state.documents.clone();
    tokio::task::spawn_blocking(move || staged.commit(&store))
        .await
        .map_err(|e| AppError::internal_while("keeping an upload", e))?
        .map_err(|e| AppError::internal_while("keeping an upload", e))?;
    let clock = state.clock;
    let once = once.through(|row: &DocumentRow| DocumentView::from_row(row.clone(), None));
    state
        .create_once(actor.user_id.clone(), once, move |conn| {
            let agency_id = visible_request(conn, &actor, &request_id, super::Reach::Handle)?;
            let version = match &checked.supersedes {
                None => 1,
                Some(old_id) => superseded_version(conn, &request_id, old_id)? + 1,
            };
            let now = clock.now_micros();
            let row = DocumentRow {
                id: uuid::Uuid::new_v4().to_string(),
                request_id: request_id.clone(),
                agency_id: agency_id.clone(),
                kind: checked.kind.code().to_string(),
                name,
                media_type: file_type.media_type().to_string(),
                size_bytes: size,
                sha256,
                note: checked.note,
                supersedes: checked.supersedes,
                version,
                uploaded_by: actor.recorded_as(),
                uploaded_at: now,
            };
            db::documents::insert(conn, &row).map_err(|e| {
                if db::is_unique_violation(&e) {
                    already_superseded()
                } else {
                    e.into()
                }
            })?;
            audit(
                conn,
                now,
                Some(&actor),
                Some(&agency_id),
                ("document", &row.id),
                "document_uploaded",
                json!({
                    "request_id": row.request_id, "kind": row.kind, "name": row.name,
                    "media_type": row.media_type, "size": row.size_bytes, "sha256": row.sha256,
                    "supersedes": row.supersedes, "version": row.version, "note": row.note,
                }),
                &ctx,
            )?;
            Ok(row)
        })
        .await
}

/// One page of an application's documents, oldest first, each with the version that
/// replaced it (if any).
pub async fn list(
    state: &AppState,
    actor: Actor,
    request_id: String,
    kind: Option<String>,
    page: Page,
) -> Result<Paged<DocumentView>, AppError> {
    if let Some(k) = &kind
        && DocumentKind::parse(k).is_none()
    {
        return Err(AppError::field(
            "kind",
            "unknown_code",
            crate::text!("未知的材料类型 {k:?}", "unknown kind {k:?}"),
        ));
    }
    state
        .with_conn(move |conn| {
            visible_request(conn, &actor, &request_id, super::Reach::Read)?;
            let (rows, total) = db::documents::for_request(
                conn,
                &request_id,
                kind.as_deref(),
                page.offset(),
                page.per_page,
            )?;
            let ids: Vec<String> = rows.iter().map(|r| r.id.clone()).collect();
            let next: std::collections::HashMap<String, String> =
                db::documents::successors(conn, &ids)?.into_iter().collect();
            let items = rows
                .into_iter()
                .map(|r| {
                    let by = next.get(&r.id).cloned();
                    DocumentView::from_row(r, by)
                })
                .collect();
            Ok(Paged { items, page, total })
        })
        .await
}

pub async fn get(state: &AppState, actor: Actor, id: String) -> Result<DocumentView, AppError> {
    state
        .with_conn(move |conn| {
            let row = visible_document(conn, &actor, &id)?;
            let by = db::documents::successors(conn, std::slice::from_ref(&row.id))?
                .into_iter()
                .next()
                .map(|(_, new)| new);
            Ok(DocumentView::from_row(row, by))
        })
        .await
}

/// A document's bytes, as chunks; an error ends the body early.
pub type ContentStream = BoxStream<'static, std::io::Result<Vec<u8>>>;

/// The document and its content. The blob is hashed before anything is sent: a blob that is
/// missing or no longer matches its SHA-256 answers `stored_record_unreadable` and no byte of
/// it goes out. It is hashed again while it is sent, and a blob changed in between ends the
/// body short of its `Content-Length`, so a client never keeps wrong bytes as the document.
pub async fn content(
    state: &AppState,
    actor: Actor,
    id: String,
) -> Result<(DocumentView, ContentStream), AppError> {
    let view = get(state, actor, id).await?;
    let store = state.documents.clone();
    let (sha, size) = (view.sha256.clone(), view.size);
    let checked = tokio::task::spawn_blocking(move || {
        store.check(&sha, u64::try_from(size).unwrap_or(u64::MAX))
    })
    .await
    .map_err(|e| AppError::internal_while("checking a document", e))?
    .map_err(|e| AppError::internal_while("reading a document", e))?;
    let file = match checked {
        Check::Intact(f) => f,
        Check::Missing | Check::Corrupt => {
            let reason = if matches!(checked, Check::Missing) {
                "its content is missing from the documents folder"
            } else {
                "its content no longer matches its SHA-256"
            };
            return Err(AppError::Unreadable {
                entity: "document",
                id: view.id.clone(),
                reason: reason.to_string(),
            });
        }
    };
    let (tx, rx) = mpsc::channel::<std::io::Result<Vec<u8>>>(4);
    let expected = view.sha256.clone();
    tokio::task::spawn_blocking(move || send_verified(file, &expected, &tx));
    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
        rx.recv().await.map(|item| (item, rx))
    });
    Ok((view, Box::pin(stream)))
}

/// Sends the file in chunks while hashing it; a mismatch at the end is sent as an error.
fn send_verified(
    mut file: std::fs::File,
    expected: &str,
    tx: &mpsc::Sender<std::io::Result<Vec<u8>>>,
) {
    use sha2::Digest;
    use std::io::Read;
    let mut hasher = sha2::Sha256::new();
    loop {
        let mut buf = vec![0u8; blobstore::CHUNK];
        match file.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => {
                buf.truncate(n);
                hasher.update(&buf);
                if tx.blocking_send(Ok(buf)).is_err() {
                    return; // the client went away
                }
            }
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        }
    }
    if hex::encode(hasher.finalize()) != expected {
        tracing::error!(
            sha256 = expected,
            "a document changed while it was sent; the body was cut short"
        );
        let _ = tx.blocking_send(Err(std::io::Error::other(
            "the document changed while it was sent",
        )));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_name_keeps_its_last_segment_and_defaults_to_kind_and_type() {
        let k = DocumentKind::Envelope;
        assert_eq!(
            file_name(Some("C:\\fakepath\\信封.jpg"), k, FileType::Jpeg).ok(),
            Some("信封.jpg".to_string())
        );
        assert_eq!(
            file_name(Some("../../申请书.pdf"), k, FileType::Pdf).ok(),
            Some("申请书.pdf".to_string())
        );
        assert_eq!(
            file_name(None, k, FileType::Pdf).ok(),
            Some("envelope.pdf".to_string())
        );
        assert_eq!(
            file_name(Some(".."), k, FileType::Png).ok(),
            Some("envelope.png".to_string())
        );
        assert!(file_name(Some("a\u{0}b.pdf"), k, FileType::Pdf).is_err());
    }

    #[test]
    fn fields_name_every_problem() {
        let (c, e) = check_fields(&UploadInput {
            kind: Some("letter".into()),
            note: Some("x".repeat(MAX_NOTE_CHARS + 1)),
            supersedes: Some("not-a-uuid".into()),
            file_name: None,
        });
        assert!(c.is_none());
        let fields: Vec<_> = e
            .into_vec()
            .into_iter()
            .map(|e| (e.field, e.code))
            .collect();
        assert_eq!(
            fields,
            vec![
                ("kind".to_string(), "unknown_code"),
                ("note".to_string(), "too_long"),
                ("supersedes".to_string(), "invalid_format"),
            ]
        );
    }
}
