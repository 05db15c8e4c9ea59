//! Against the real server binaries: start, connect (psql), stop, restart, attach, share.
#![allow(clippy::unwrap_used)]

use pgcluster::{Cluster, TempCluster};

#[test]
fn start_query_restart_attach() {
    let t = TempCluster::new().unwrap();
    let c = t.cluster();
    assert!(c.owns_server());
    assert!(c.socket_dir.as_os_str().len() <= 90);
    assert_eq!(c.psql("postgres", "SELECT 40 + 2").unwrap().trim(), "42");
    assert_eq!(
        c.psql("postgres", "SHOW listen_addresses").unwrap().trim(),
        ""
    );
    c.psql(
        "postgres",
        "CREATE TABLE kept(x int); INSERT INTO kept VALUES (7)",
    )
    .unwrap();

    // A second handle attaches to the running server and leaves it running when dropped.
    let attached = Cluster::start(&c.dir).unwrap();
    assert!(!attached.owns_server());
    assert_eq!(attached.socket_dir, c.socket_dir);
    drop(attached);
    assert_eq!(
        c.psql("postgres", "SELECT x FROM kept").unwrap().trim(),
        "7"
    );

    // Stopped: connections fail; resumed: data kept.
    c.stop().unwrap();
    assert!(c.psql("postgres", "SELECT 1").is_err());
    c.resume().unwrap();
    assert_eq!(
        c.psql("postgres", "SELECT x FROM kept").unwrap().trim(),
        "7"
    );

    // A crash-like stop, then a new handle on the same directory runs recovery.
    c.stop_immediate().unwrap();
    let mut again = Cluster::start(&c.dir).unwrap();
    assert!(again.owns_server());
    // A leftover server (its owner crashed) can be adopted and is then stopped on drop.
    std::mem::forget(again);
    let mut adopted = Cluster::start(&c.dir).unwrap();
    assert!(!adopted.owns_server());
    adopted.adopt();
    assert!(adopted.owns_server());
    drop(adopted);
    again = Cluster::start(&c.dir).unwrap();
    assert!(again.owns_server());
    assert_eq!(
        again.psql("postgres", "SELECT x FROM kept").unwrap().trim(),
        "7"
    );
}

#[test]
fn long_directories_get_a_short_socket_folder() {
    let base = tempfile::Builder::new()
        .prefix("pgc-long-")
        .tempdir_in("/tmp")
        .unwrap();
    let long = base.path().join("a".repeat(60)).join("b".repeat(40));
    std::fs::create_dir_all(&long).unwrap();
    // Parents must be reachable by the server's user.
    for dir in [
        base.path().to_path_buf(),
        long.parent().unwrap().to_path_buf(),
        long.clone(),
    ] {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let c = Cluster::start(long.join("pg")).unwrap();
    assert!(!c.socket_dir.starts_with(&long));
    assert_eq!(c.psql("postgres", "SELECT 1").unwrap().trim(), "1");
    c.stop().unwrap();
}

#[test]
fn shared_cluster_hands_out_separate_databases() {
    let t = TempCluster::shared().unwrap();
    let a = t.create_database().unwrap();
    let b = t.create_database().unwrap();
    assert_ne!(a.name, b.name);
    let c = t.cluster();
    c.psql(&a.name, "CREATE TABLE only_in_a(x int)").unwrap();
    assert!(c.psql(&b.name, "SELECT * FROM only_in_a").is_err());
    assert!(std::ptr::eq(t, TempCluster::shared().unwrap()));
}

#[test]
fn clusters_of_dead_test_processes_are_swept() {
    // A cluster whose owner "died": its owner file names a process that does not exist.
    let orphan = TempCluster::new().unwrap();
    let dir = orphan.cluster().dir.parent().unwrap().to_path_buf();
    std::fs::write(dir.join("owner.pid"), "999999999").unwrap();
    let data = orphan.cluster().data_dir();
    std::mem::forget(orphan); // as if the process had been killed
    assert!(data.join("postmaster.pid").is_file());
    let fresh = TempCluster::new().unwrap();
    assert!(!dir.exists(), "the orphan was not removed");
    assert_eq!(
        fresh.cluster().psql("postgres", "SELECT 1").unwrap().trim(),
        "1"
    );
}
