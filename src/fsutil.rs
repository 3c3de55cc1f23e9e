//! Writing files so that a reader never sees half of one.

use std::io::Write;
use std::path::Path;

/// Writes `data` to a temporary file beside `path`, then renames it over `path`.
pub(crate) fn write_atomic(path: &Path, data: &[u8]) -> std::io::Result<()> {
    write_atomic_with_mode(path, data, None)
}

/// As [`write_atomic`], giving the file `mode` (e.g. 0o644) before it appears.
pub(crate) fn write_atomic_with_mode(
    path: &Path,
    data: &[u8],
    mode: Option<u32>,
) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let dir = match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".to_owned());
    let tmp = dir.join(format!(".{name}.devloop-{}.tmp", std::process::id()));
    let result = (|| {
        let mut file = std::fs::File::create(&tmp)?;
        file.write_all(data)?;
        if let Some(mode) = mode {
            file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        }
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}
