//! The few OS facilities the benchmark needs: CPU pinning, the file
//! descriptor limit and the resident set size. Linux only; elsewhere the
//! pinning and the limit are no-ops and the RSS reads as zero.

/// How many CPUs this process may run on.
pub fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Pins the calling thread (and the threads it spawns later) to one CPU.
#[cfg(target_os = "linux")]
pub fn pin_current_thread(cpu: usize) {
    // SAFETY: cpu_set_t is plain data, zeroed is a valid empty set; pid 0 is
    // the calling thread and the size is that of the set passed.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        libc::CPU_SET(cpu, &mut set);
        if libc::sched_setaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &set) != 0 {
            eprintln!(
                "warning: could not pin a thread to CPU {cpu}: {}",
                std::io::Error::last_os_error()
            );
        }
    }
}

#[cfg(not(target_os = "linux"))]
pub fn pin_current_thread(_cpu: usize) {}

/// Raises the soft limit of open files to the hard limit, so that thousands of
/// idle connections fit in one process. Returns the soft limit now in force.
#[cfg(unix)]
pub fn raise_nofile() -> u64 {
    // SAFETY: rlimit is plain data, filled by getrlimit before it is read.
    unsafe {
        let mut limit: libc::rlimit = std::mem::zeroed();
        if libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) != 0 {
            return 0;
        }
        if limit.rlim_cur < limit.rlim_max {
            let wanted = libc::rlimit {
                rlim_cur: limit.rlim_max,
                rlim_max: limit.rlim_max,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &wanted) == 0 {
                limit = wanted;
            }
        }
        limit.rlim_cur as u64
    }
}

#[cfg(not(unix))]
pub fn raise_nofile() -> u64 {
    0
}

/// The resident set size of this process in KiB (`VmRSS` of /proc/self/status).
pub fn vm_rss_kib() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))
        .and_then(|rest| rest.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or(0)
}

/// Bytes the allocator has handed out and not taken back (glibc's mallinfo2:
/// in-use chunks plus mmapped blocks); zero where that is not available.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn heap_in_use() -> u64 {
    // SAFETY: mallinfo2 only reads the allocator's statistics.
    let info = unsafe { libc::mallinfo2() };
    (info.uordblks + info.hblkhd) as u64
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap_in_use() -> u64 {
    0
}
