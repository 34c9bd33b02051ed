//! What can go wrong finding and reading a config file, in the config's terms.
//!
//! The config file is always one the user chose (`--config PATH` or their `orx.yaml`), so a
//! failed read is a [`FileError`] with [`FileRole::Input`](crate::error::FileRole::Input).
//! A file that reads but does not parse or validate is one [`ConfigError::Invalid`]: the place
//! (`orx.yaml:4:3`), the sentence, and the hint the diagnostics worked out (a did-you-mean, the
//! valid names). The boundary mapping (`crate::error`) decides kinds and the remaining hints.

use std::path::PathBuf;

use crate::error::file::FileError;

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// `--config PATH` names nothing.
    #[error("config file {} does not exist", path.display())]
    MissingFile { path: PathBuf },
    /// `--config PATH` names a folder.
    #[error("config path {} is a folder, not a file", path.display())]
    IsFolder { path: PathBuf },
    /// The file exists but could not be read.
    #[error(transparent)]
    File(#[from] FileError),
    /// The file is not UTF-8; `offset` is the first bad byte.
    #[error("{} is not UTF-8 text (invalid byte at offset {offset})", path.display())]
    NotUtf8 { path: PathBuf, offset: usize },
    /// The text is not a valid config: `place` is `file:line:col` (or the file alone).
    #[error("{place}: {message}")]
    Invalid {
        place: String,
        message: String,
        hint: Option<String>,
    },
}

pub type Result<T, E = ConfigError> = std::result::Result<T, E>;
