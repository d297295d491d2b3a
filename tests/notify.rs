//! sd_notify messages arrive on a NOTIFY_SOCKET we create. Its own test binary, and one test
//! function, because it sets process-wide environment variables.

use newsdesk::service::notify;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

fn recv(sock: &UnixDatagram) -> String {
    let mut buf = [0u8; 4096];
    let n = sock.recv(&mut buf).expect("a notification datagram");
    String::from_utf8(buf[..n].to_vec()).unwrap()
}

#[test]
fn messages_reach_the_socket_and_nothing_is_sent_without_one() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("notify.sock");
    let sock = UnixDatagram::bind(&path).unwrap();
    sock.set_read_timeout(Some(Duration::from_secs(5))).unwrap();

    std::env::set_var("NOTIFY_SOCKET", &path);
    assert!(notify::enabled());

    notify::ready("3 feeds, no successful poll yet").unwrap();
    let m = recv(&sock);
    assert!(m.lines().any(|l| l == "READY=1"), "{m}");
    assert!(
        m.lines()
            .any(|l| l == "STATUS=3 feeds, no successful poll yet"),
        "{m}"
    );

    // Unset (outside systemd): calls succeed and send nothing, not even to the socket
    // that was used a moment ago and still listens.
    std::env::remove_var("NOTIFY_SOCKET");
    assert!(!notify::enabled());
    notify::ready("not sent").unwrap();
    notify::watchdog().unwrap();
    sock.set_nonblocking(true).unwrap();
    let mut buf = [0u8; 64];
    let nothing = sock.recv(&mut buf);
    assert!(
        matches!(&nothing, Err(e) if e.kind() == std::io::ErrorKind::WouldBlock),
        "nothing may arrive: {:?}",
        nothing.map(|n| String::from_utf8_lossy(&buf[..n]).into_owned())
    );
    sock.set_nonblocking(false).unwrap();
    std::env::set_var("NOTIFY_SOCKET", &path);

    notify::status("3 feeds (1 failing), last successful poll 4s ago").unwrap();
    assert_eq!(
        recv(&sock),
        "STATUS=3 feeds (1 failing), last successful poll 4s ago\n"
    );

    notify::watchdog().unwrap();
    assert_eq!(recv(&sock), "WATCHDOG=1\n");

    notify::reloading().unwrap();
    let m = recv(&sock);
    assert!(m.lines().any(|l| l == "RELOADING=1"), "{m}");
    assert!(m.lines().any(|l| l.starts_with("MONOTONIC_USEC=")), "{m}");

    notify::stopping("shutting down: SIGTERM").unwrap();
    let m = recv(&sock);
    assert!(m.lines().any(|l| l == "STOPPING=1"), "{m}");
    assert!(m.contains("STATUS=shutting down: SIGTERM"), "{m}");

    // A socket that is gone is an error naming it, for the daemon to log.
    drop(sock);
    std::fs::remove_file(&path).unwrap();
    let err = notify::watchdog().unwrap_err().to_string();
    assert!(
        err.contains("notify.sock") && err.contains("WATCHDOG=1"),
        "{err}"
    );
    std::env::remove_var("NOTIFY_SOCKET");

    // Watchdog: ping at half of WatchdogSec, only when meant for this process.
    std::env::set_var("WATCHDOG_USEC", "20000000");
    std::env::remove_var("WATCHDOG_PID");
    assert_eq!(notify::watchdog_interval(), Some(Duration::from_secs(10)));
    std::env::set_var("WATCHDOG_PID", std::process::id().to_string());
    assert_eq!(notify::watchdog_interval(), Some(Duration::from_secs(10)));
    std::env::set_var("WATCHDOG_PID", "1");
    assert_eq!(notify::watchdog_interval(), None);
    std::env::remove_var("WATCHDOG_PID");
    std::env::remove_var("WATCHDOG_USEC");
    assert_eq!(notify::watchdog_interval(), None);
}
