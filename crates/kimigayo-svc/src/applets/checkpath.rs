//! checkpath: make sure a directory, file or fifo exists with the given mode and owner.
//! Like OpenRC's, it never follows a symbolic link: the path is opened with O_NOFOLLOW and
//! mode/owner are changed through that descriptor, so a link planted by an unprivileged user
//! cannot redirect a chown.

use std::ffi::{CString, OsString};
use std::path::Path;

use super::getopt::{self, flag, value, Item, Opt};
use super::proc;

const OPTS: &[Opt] = &[
    flag('d', "directory"),
    flag('D', "directory-truncate"),
    flag('f', "file"),
    flag('F', "file-truncate"),
    flag('p', "pipe"),
    value('m', "mode"),
    value('o', "owner"),
    flag('W', "writable"),
    flag('q', "quiet"),
    flag('v', "verbose"),
    flag('h', "help"),
];

pub const USAGE: &str = "\
Usage: checkpath -d|-D|-f|-F|-p|-W [-m MODE] [-o OWNER[:GROUP]] [-q] PATH...
  -d, --directory            create the directory if missing
  -D, --directory-truncate   create it, or empty it
  -f, --file                 create the file if missing
  -F, --file-truncate        create it, or truncate it
  -p, --pipe                 create a fifo if missing
  -m, --mode MODE            octal mode (default on creation: dir 0755, file 0644, fifo 0600)
  -o, --owner USER[:GROUP]   owner (names or ids)
  -W, --writable             only test: exit 0 when every PATH is writable
  -q, --quiet                no messages
Symbolic links are refused, never followed.
";

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Kind {
    Dir,
    File,
    Fifo,
}

fn err(msg: &str) {
    eprintln!(" * checkpath: {msg}");
}

pub fn checkpath_main(args: &[OsString]) -> i32 {
    let (items, rest) = match getopt::parse(args, OPTS) {
        Ok(x) => x,
        Err(e) => {
            err(&format!("{e} (see checkpath --help)"));
            return 1;
        }
    };
    let mut kind = None;
    let mut truncate = false;
    let mut writable = false;
    let mut quiet = false;
    let mut verbose = false;
    let mut mode = None;
    let mut owner = None;
    let mut paths: Vec<String> = rest;
    for item in items {
        match item {
            Item::Positional(p) => paths.push(p),
            Item::Opt(name, v) => match name {
                "directory" => kind = Some(Kind::Dir),
                "directory-truncate" => (kind, truncate) = (Some(Kind::Dir), true),
                "file" => kind = Some(Kind::File),
                "file-truncate" => (kind, truncate) = (Some(Kind::File), true),
                "pipe" => kind = Some(Kind::Fifo),
                "writable" => writable = true,
                "quiet" => quiet = true,
                "verbose" => verbose = true,
                "mode" => match proc::parse_mode(&v.unwrap_or_default()) {
                    Ok(m) => mode = Some(m),
                    Err(e) => {
                        err(&e);
                        return 1;
                    }
                },
                "owner" => match proc::parse_owner(&v.unwrap_or_default()) {
                    Ok((u, g)) => owner = Some((u.map(|u| u.uid), g)),
                    Err(e) => {
                        err(&e);
                        return 1;
                    }
                },
                "help" => {
                    print!("{USAGE}");
                    return 0;
                }
                _ => {}
            },
        }
    }
    if paths.is_empty() {
        err("no path given (see checkpath --help)");
        return 1;
    }
    if writable {
        return if paths.iter().all(|p| is_writable(p)) { 0 } else { 1 };
    }
    let Some(kind) = kind else {
        err("need one of -d, -D, -f, -F, -p or -W");
        return 1;
    };
    let mut code = 0;
    for p in &paths {
        if let Err(e) = check(p, kind, truncate, mode, owner, verbose && !quiet) {
            err(&format!("{p}: {e}"));
            code = 1;
        }
    }
    code
}

fn cpath(p: &str) -> Result<CString, String> {
    CString::new(p).map_err(|_| "path contains NUL".to_string())
}

fn is_writable(p: &str) -> bool {
    cpath(p).map(|c| unsafe { libc::access(c.as_ptr(), libc::W_OK) } == 0).unwrap_or(false)
}

fn os_err() -> String {
    std::io::Error::last_os_error().to_string()
}

fn check(p: &str, kind: Kind, truncate: bool, mode: Option<u32>, owner: Option<(Option<u32>, Option<u32>)>, verbose: bool) -> Result<(), String> {
    let c = cpath(p)?;
    let meta = std::fs::symlink_metadata(p);
    let created = match meta {
        Ok(m) if m.file_type().is_symlink() => return Err("is a symbolic link; refusing to follow it".into()),
        Ok(m) => {
            let ok = match kind {
                Kind::Dir => m.is_dir(),
                Kind::File => m.is_file(),
                Kind::Fifo => std::os::unix::fs::FileTypeExt::is_fifo(&m.file_type()),
            };
            if !ok {
                return Err(format!("exists but is not a {}", match kind { Kind::Dir => "directory", Kind::File => "file", Kind::Fifo => "fifo" }));
            }
            false
        }
        Err(_) => {
            let default = match kind { Kind::Dir => 0o755, Kind::File => 0o644, Kind::Fifo => 0o600 };
            let m = mode.unwrap_or(default) as libc::mode_t;
            let r = unsafe {
                match kind {
                    Kind::Dir => libc::mkdir(c.as_ptr(), m),
                    Kind::Fifo => libc::mkfifo(c.as_ptr(), m),
                    Kind::File => {
                        let fd = libc::open(c.as_ptr(), libc::O_CREAT | libc::O_EXCL | libc::O_WRONLY | libc::O_NOFOLLOW | libc::O_CLOEXEC, m as libc::c_uint);
                        if fd >= 0 {
                            libc::close(fd);
                        }
                        fd.min(0)
                    }
                }
            };
            if r != 0 {
                return Err(format!("cannot create: {}", os_err()));
            }
            if verbose {
                println!(" * {p}: created");
            }
            true
        }
    };
    let flags = libc::O_NOFOLLOW | libc::O_CLOEXEC | match kind {
        Kind::Dir => libc::O_RDONLY | libc::O_DIRECTORY,
        Kind::File => libc::O_RDONLY | libc::O_NONBLOCK,
        Kind::Fifo => libc::O_RDONLY | libc::O_NONBLOCK,
    };
    let fd = unsafe { libc::open(c.as_ptr(), flags) };
    if fd < 0 {
        let e = std::io::Error::last_os_error();
        return Err(if e.raw_os_error() == Some(libc::ELOOP) { "is a symbolic link; refusing to follow it".into() } else { e.to_string() });
    }
    let f = crate::pump::file_from(fd);
    if truncate && !created {
        match kind {
            Kind::File => {
                let w = unsafe { libc::open(c.as_ptr(), libc::O_WRONLY | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_CLOEXEC) };
                if w < 0 {
                    return Err(format!("cannot truncate: {}", os_err()));
                }
                unsafe { libc::close(w) };
            }
            Kind::Dir => empty_dir(Path::new(p))?,
            Kind::Fifo => {}
        }
    }
    let mut st: libc::stat = unsafe { std::mem::zeroed() };
    if unsafe { libc::fstat(fd, &mut st) } != 0 {
        return Err(os_err());
    }
    if let Some(m) = mode.filter(|m| (st.st_mode & 0o7777) as u32 != *m || created) {
        if unsafe { libc::fchmod(fd, m as libc::mode_t) } != 0 {
            return Err(format!("chmod {m:o}: {}", os_err()));
        }
    }
    if let Some((uid, gid)) = owner {
        let u = uid.unwrap_or(u32::MAX);
        let g = gid.unwrap_or(u32::MAX);
        if (uid.is_some() && uid != Some(st.st_uid)) || (gid.is_some() && gid != Some(st.st_gid)) {
            if unsafe { libc::fchown(fd, u, g) } != 0 {
                return Err(format!("chown: {}", os_err()));
            }
            // chown clears set-id bits: restore the asked mode.
            if let Some(m) = mode {
                unsafe { libc::fchmod(fd, m as libc::mode_t) };
            }
        }
    }
    drop(f);
    Ok(())
}

/// -D: remove what the directory holds, without following links out of it.
fn empty_dir(dir: &Path) -> Result<(), String> {
    let rd = std::fs::read_dir(dir).map_err(|e| e.to_string())?;
    for e in rd.flatten() {
        let p = e.path();
        let ft = e.file_type().map_err(|e| e.to_string())?;
        let r = if ft.is_dir() { std::fs::remove_dir_all(&p) } else { std::fs::remove_file(&p) };
        r.map_err(|e| format!("{}: {e}", Path::new(p.as_os_str()).display()))?;
    }
    Ok(())
}
