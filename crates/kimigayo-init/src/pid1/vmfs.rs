//! VM mode: the API filesystems a bare machine's PID 1 must mount itself.

use std::ffi::CString;

use crate::log::Log;
use crate::shutdown::mountinfo;

const API: &[(&str, &str, libc::c_ulong, &str)] = &[
    ("/proc", "proc", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, ""),
    ("/sys", "sysfs", libc::MS_NOSUID | libc::MS_NODEV | libc::MS_NOEXEC, ""),
    ("/dev", "devtmpfs", libc::MS_NOSUID, "mode=0755"),
    ("/run", "tmpfs", libc::MS_NOSUID | libc::MS_NODEV, "mode=0755"),
];

pub fn mount_api_filesystems(log: &Log) {
    for (target, fstype, flags, data) in API {
        let mounted = std::fs::read_to_string("/proc/self/mountinfo")
            .ok()
            .and_then(|t| mountinfo::parse(&t).ok())
            .is_some_and(|ms| ms.iter().any(|m| m.mount_point == *target));
        if mounted {
            continue;
        }
        let _ = std::fs::create_dir_all(target);
        let (Ok(t), Ok(f), Ok(d)) = (CString::new(*target), CString::new(*fstype), CString::new(*data)) else { continue };
        // SAFETY: mount(2) with valid C strings.
        let rc = unsafe { libc::mount(f.as_ptr(), t.as_ptr(), f.as_ptr(), *flags, d.as_ptr().cast()) };
        if rc != 0 {
            log.error(&format!("cannot mount {fstype} on {target}: {}", std::io::Error::last_os_error()));
        }
    }
}
