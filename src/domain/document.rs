//! Papers on file for an application (申请材料及送达凭证): what kind of paper a document is,
//! and which file types are kept.

use serde::{Deserialize, Serialize};

/// What a document on file is. The codes are stable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DocumentKind {
    /// The application letter or form (申请书).
    ApplicationLetter,
    /// The envelope of a posted application: its postmark proves the date (信封，邮戳).
    Envelope,
    /// A copy of the applicant's identity document (身份证明复印件).
    IdentityCopy,
    /// What the applicant sent to correct the application (补正材料).
    CorrectionMaterial,
    /// A proof of service: a return receipt, a signed delivery record (送达回证、回执).
    ProofOfService,
    /// The reply as signed and sealed (签发的答复告知书).
    SignedReply,
    /// Anything else.
    Other,
}

impl DocumentKind {
    pub const ALL: [DocumentKind; 7] = [
        DocumentKind::ApplicationLetter,
        DocumentKind::Envelope,
        DocumentKind::IdentityCopy,
        DocumentKind::CorrectionMaterial,
        DocumentKind::ProofOfService,
        DocumentKind::SignedReply,
        DocumentKind::Other,
    ];

    pub fn code(self) -> &'static str {
        match self {
            DocumentKind::ApplicationLetter => "application_letter",
            DocumentKind::Envelope => "envelope",
            DocumentKind::IdentityCopy => "identity_copy",
            DocumentKind::CorrectionMaterial => "correction_material",
            DocumentKind::ProofOfService => "proof_of_service",
            DocumentKind::SignedReply => "signed_reply",
            DocumentKind::Other => "other",
        }
    }

    pub fn parse(code: &str) -> Option<DocumentKind> {
        Self::ALL.into_iter().find(|k| k.code() == code)
    }
}

/// The file types kept, recognised from their content (never from what the client declares).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileType {
    Pdf,
    Jpeg,
    Png,
    /// GB/T 33190 OFD, the Chinese fixed-layout format of official documents: a ZIP with
    /// `OFD.xml` at its root.
    Ofd,
    /// Word (OOXML): a ZIP with a `word/` part.
    Docx,
}

impl FileType {
    pub fn media_type(self) -> &'static str {
        match self {
            FileType::Pdf => "application/pdf",
            FileType::Jpeg => "image/jpeg",
            FileType::Png => "image/png",
            FileType::Ofd => "application/ofd",
            FileType::Docx => {
                "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
            }
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            FileType::Pdf => "pdf",
            FileType::Jpeg => "jpg",
            FileType::Png => "png",
            FileType::Ofd => "ofd",
            FileType::Docx => "docx",
        }
    }
}

/// What the first bytes of a file say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Magic {
    Known(FileType),
    /// A ZIP container: OFD, DOCX or neither, as its entry names tell ([`zip_type`]).
    Zip,
    Unknown,
}

/// Recognises a file by its leading bytes (at least 8 are needed for PNG).
pub fn magic(head: &[u8]) -> Magic {
    if head.starts_with(b"%PDF-") {
        Magic::Known(FileType::Pdf)
    } else if head.starts_with(&[0xFF, 0xD8, 0xFF]) {
        Magic::Known(FileType::Jpeg)
    } else if head.starts_with(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A]) {
        Magic::Known(FileType::Png)
    } else if head.starts_with(b"PK\x03\x04") {
        Magic::Zip
    } else {
        Magic::Unknown
    }
}

/// Which ZIP-based type a container is, by its entry names: `OFD.xml` at the root makes an OFD
/// package; a `word/` part (or a `[Content_Types].xml` naming wordprocessingml, which the caller
/// reports as `content_types_word`) a DOCX. Anything else is refused (XLSX, a plain ZIP).
pub fn zip_type<'a>(
    names: impl IntoIterator<Item = &'a str>,
    content_types_word: bool,
) -> Option<FileType> {
    let mut word = content_types_word;
    for name in names {
        if name == "OFD.xml" {
            return Some(FileType::Ofd);
        }
        if name.starts_with("word/") {
            word = true;
        }
    }
    word.then_some(FileType::Docx)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_kind_parses_back_from_its_code() {
        for k in DocumentKind::ALL {
            assert_eq!(DocumentKind::parse(k.code()), Some(k));
        }
        assert_eq!(DocumentKind::parse("letter"), None);
    }

    #[test]
    fn leading_bytes_name_pdf_jpeg_png_and_zip() {
        assert_eq!(magic(b"%PDF-1.7\n"), Magic::Known(FileType::Pdf));
        assert_eq!(
            magic(&[0xFF, 0xD8, 0xFF, 0xE0]),
            Magic::Known(FileType::Jpeg)
        );
        assert_eq!(
            magic(&[0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A, 0]),
            Magic::Known(FileType::Png)
        );
        assert_eq!(magic(b"PK\x03\x04rest"), Magic::Zip);
        assert_eq!(magic(b"%PDF"), Magic::Unknown, "too short to be a PDF");
        assert_eq!(magic(b"hello, this is text"), Magic::Unknown);
        assert_eq!(magic(b""), Magic::Unknown);
    }

    #[test]
    fn a_zip_is_ofd_with_ofd_xml_at_the_root_and_docx_with_a_word_part() {
        assert_eq!(
            zip_type(["OFD.xml", "Doc_0/Document.xml"], false),
            Some(FileType::Ofd)
        );
        assert_eq!(
            zip_type(["[Content_Types].xml", "word/document.xml"], false),
            Some(FileType::Docx)
        );
        assert_eq!(
            zip_type(["[Content_Types].xml"], true),
            Some(FileType::Docx)
        );
        assert_eq!(zip_type(["sub/OFD.xml"], false), None, "not at the root");
        assert_eq!(zip_type(["xl/workbook.xml"], false), None, "a spreadsheet");
        assert_eq!(zip_type(Vec::<&str>::new(), false), None);
    }
}
