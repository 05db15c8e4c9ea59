//! Background threads (segment preallocation, snapshot writing) run at the lowest CPU
//! priority, so that on a busy machine they take the idle time instead of delaying the
//! sequencer, the matcher and the network threads that orders wait on.

/// Lowers the calling thread's CPU priority to nice 19 (Linux applies nice per thread).
/// Best effort: a failure is logged and the thread runs at normal priority.
pub fn lower_thread_priority() {
    // SAFETY: gettid and setpriority take plain integers and touch no memory of ours.
    let rc = unsafe {
        let tid = libc::gettid();
        libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, 19)
    };
    if rc != 0 {
        tracing::debug!(
            error = %std::io::Error::last_os_error(),
            "cannot lower a background thread's priority"
        );
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_calling_thread_gets_nice_19_and_others_keep_theirs() {
        let before = unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) };
        let nice = std::thread::spawn(|| {
            super::lower_thread_priority();
            // SAFETY: plain integers.
            unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) }
        })
        .join()
        .unwrap_or(i32::MIN);
        assert_eq!(nice, 19);
        let after = unsafe { libc::getpriority(libc::PRIO_PROCESS, libc::gettid() as libc::id_t) };
        assert_eq!(after, before);
    }
}
