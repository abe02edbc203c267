//! The documents folder (`documents.dir`): file contents kept under their SHA-256, written
//! once. Blocking file I/O only; callers run it off the async workers (`app::documents`).
//!
//! An upload is written to a temporary file in the folder while it is hashed and counted,
//! synced, then renamed to its hash and the folder synced, all before the database row that
//! references it is inserted. A crash in between leaves at worst a blob (or a `.upload-*`
//! temporary file) that nothing references, never a reference without its blob. The folder
//! must be shared by every API process (one host, or a shared volume).

use std::fs::File;
use std::io::{self, Read, Seek, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

/// Bytes read at a time when hashing or streaming a blob.
pub const CHUNK: usize = 64 * 1024;

/// The folder of blobs.
#[derive(Debug, Clone)]
pub struct BlobStore {
    dir: PathBuf,
}

/// Whether a stored blob still holds what was uploaded.
#[derive(Debug)]
pub enum Check {
    Intact(File),
    Missing,
    /// The bytes on disk no longer hash to the recorded SHA-256 (or have another length).
    Corrupt,
}

impl BlobStore {
    /// The folder, created when missing.
    pub fn open(dir: &Path) -> io::Result<BlobStore> {
        std::fs::create_dir_all(dir)?;
        Ok(BlobStore {
            dir: dir.to_path_buf(),
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where the blob with this hash lives; `None` for anything that is not a SHA-256 in
    /// lowercase hex (so a stored value can never name a path outside the folder).
    pub fn path_of(&self, sha256: &str) -> Option<PathBuf> {
        let ok = sha256.len() == 64
            && sha256
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        ok.then(|| self.dir.join(sha256))
    }

    /// A new temporary file in the folder (removed when dropped unless committed).
    pub fn stage(&self) -> io::Result<Staging> {
        let file = tempfile::Builder::new()
            .prefix(".upload-")
            .tempfile_in(&self.dir)?;
        Ok(Staging {
            file,
            hasher: Sha256::new(),
            size: 0,
        })
    }

    /// Opens the blob and checks its length and SHA-256; the file handed back is positioned at
    /// its start.
    pub fn check(&self, sha256: &str, size: u64) -> io::Result<Check> {
        let Some(path) = self.path_of(sha256) else {
            return Ok(Check::Corrupt);
        };
        let mut file = match File::open(&path) {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Check::Missing),
            Err(e) => return Err(e),
        };
        if file.metadata()?.len() != size {
            return Ok(Check::Corrupt);
        }
        let (hash, len) = hash_reader(&mut file)?;
        if hash != sha256 || len != size {
            return Ok(Check::Corrupt);
        }
        file.rewind()?;
        Ok(Check::Intact(file))
    }
}

/// An upload being written.
pub struct Staging {
    file: tempfile::NamedTempFile,
    hasher: Sha256,
    size: u64,
}

impl Staging {
    pub fn write(&mut self, chunk: &[u8]) -> io::Result<()> {
        self.hasher.update(chunk);
        self.size += chunk.len() as u64;
        self.file.write_all(chunk)
    }

    /// Flushes and syncs the file: its bytes are on disk before anything refers to them.
    pub fn finish(self) -> io::Result<Staged> {
        let Staging { file, hasher, size } = self;
        file.as_file().sync_all()?;
        Ok(Staged {
            file,
            sha256: hex::encode(hasher.finalize()),
            size,
        })
    }
}

/// A complete upload, synced, not yet under its hash.
pub struct Staged {
    file: tempfile::NamedTempFile,
    pub sha256: String,
    pub size: u64,
}

impl Staged {
    /// The first `n` bytes (fewer if the file is shorter).
    pub fn head(&self, n: usize) -> io::Result<Vec<u8>> {
        let mut f = self.file.reopen()?;
        let mut buf = Vec::with_capacity(n);
        Read::by_ref(&mut f).take(n as u64).read_to_end(&mut buf)?;
        Ok(buf)
    }

    /// The entry names of a ZIP container, read from its central directory (the file is not
    /// loaded), and whether `[Content_Types].xml` names a WordprocessingML main part. `None`
    /// when it is no readable ZIP.
    pub fn zip_names(&self) -> io::Result<Option<(Vec<String>, bool)>> {
        let f = self.file.reopen()?;
        let mut archive = match zip::ZipArchive::new(f) {
            Ok(a) => a,
            Err(_) => return Ok(None),
        };
        let names: Vec<String> = archive
            .file_names()
            .filter_map(|n| n.ok().map(std::borrow::Cow::into_owned))
            .collect();
        let mut word = false;
        if let Ok(entry) = archive.by_name("[Content_Types].xml") {
            // Small by nature; read at most 64 KiB of it.
            let mut text = String::new();
            if entry.take(64 * 1024).read_to_string(&mut text).is_ok() {
                word = text.contains("wordprocessingml.document.main");
            }
        }
        Ok(Some((names, word)))
    }

    /// Puts the blob under its hash. An intact blob with that hash is kept as it is (the
    /// temporary file is dropped); a missing or damaged one is replaced atomically by this
    /// upload, which repairs it. The folder is synced so that the name survives a crash before
    /// the row referring to it is committed.
    pub fn commit(self, store: &BlobStore) -> io::Result<()> {
        let target = store
            .path_of(&self.sha256)
            .ok_or_else(|| io::Error::other("not a SHA-256"))?;
        if let Check::Intact(_) = store.check(&self.sha256, self.size)? {
            return Ok(());
        }
        self.file.persist(&target).map_err(|e| e.error)?;
        sync_dir(store.dir())
    }
}

fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

/// SHA-256 (lowercase hex) and length of everything a reader yields.
pub fn hash_reader(r: &mut impl Read) -> io::Result<(String, u64)> {
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; CHUNK];
    let mut len = 0u64;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
    Ok((hex::encode(hasher.finalize()), len))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_committed_upload_is_found_under_its_hash_and_a_damaged_one_is_repaired() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(&dir.path().join("docs")).unwrap();
        let mut s = store.stage().unwrap();
        s.write(b"%PDF-1.4 hello").unwrap();
        let staged = s.finish().unwrap();
        let sha = staged.sha256.clone();
        assert_eq!(staged.size, 14);
        staged.commit(&store).unwrap();
        assert!(matches!(store.check(&sha, 14).unwrap(), Check::Intact(_)));
        // Damaged on disk: detected, and the same content uploaded again repairs it.
        std::fs::write(store.path_of(&sha).unwrap(), b"%PDF-1.4 hellO").unwrap();
        assert!(matches!(store.check(&sha, 14).unwrap(), Check::Corrupt));
        let mut s = store.stage().unwrap();
        s.write(b"%PDF-1.4 hello").unwrap();
        s.finish().unwrap().commit(&store).unwrap();
        assert!(matches!(store.check(&sha, 14).unwrap(), Check::Intact(_)));
        // No temporary file is left behind.
        let names: Vec<_> = std::fs::read_dir(store.dir())
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        assert_eq!(names, vec![sha.clone()]);
        assert!(matches!(
            store.check(&"0".repeat(64), 1).unwrap(),
            Check::Missing
        ));
        assert!(store.path_of("../etc/passwd").is_none());
    }

    #[test]
    fn a_dropped_upload_leaves_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let store = BlobStore::open(dir.path()).unwrap();
        let mut s = store.stage().unwrap();
        s.write(b"partial").unwrap();
        drop(s);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }
}
