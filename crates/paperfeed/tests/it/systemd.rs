//! The systemd units in `contrib/systemd`: `systemd-analyze verify` finds nothing wrong with
//! them, `systemd-analyze security` rates their sandbox no worse than today, and what `serve`
//! and `backup` really do fits the sandbox the units declare, watched with strace: every
//! system call passes the unit's filter, every socket is of an allowed family, every path
//! written is in the data directory (or the backups' directory, or the private /tmp), and
//! nothing is read from /proc beyond the process's own entries (`ProcSubset=pid`).

use std::collections::BTreeSet;
use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use crate::browser::find_program;
use crate::community::Visitor;
use crate::harness::{Server, bin, fixture, ok, workspace_root};

/// The units shipped, and their place in the repository.
const UNITS: [&str; 3] = [
    "paperfeed.service",
    "paperfeed-backup.service",
    "paperfeed-backup.timer",
];

/// Where the units expect the binary.
const INSTALLED_BINARY: &str = "/usr/local/bin/paperfeed";

fn unit_text(name: &str) -> String {
    std::fs::read_to_string(workspace_root().join("contrib/systemd").join(name)).unwrap()
}

/// `name` on the PATH, or `None` (a loud skip) outside CI; scripts/ensure-test-deps installs it.
fn tool(name: &str) -> Option<String> {
    let found = find_program(&[name]);
    if found.is_none() {
        assert!(
            std::env::var_os("CI").is_none(),
            "{name} is required in CI (scripts/ensure-test-deps installs it)"
        );
        eprintln!("SKIPPED: {name} not installed (scripts/ensure-test-deps installs it)");
    }
    found
}

/// The units with the binary under test in place of the installed one (verify checks that
/// `ExecStart=` names an executable), written to `dir`.
fn units_for_this_build(dir: &Path) -> Vec<PathBuf> {
    UNITS
        .iter()
        .map(|name| {
            let path = dir.join(name);
            let text = unit_text(name).replace(INSTALLED_BINARY, env!("CARGO_BIN_EXE_paperfeed"));
            std::fs::write(&path, text).unwrap();
            path
        })
        .collect()
}

/// What systemd-analyze security says of one service: the overall exposure and the names of
/// the checks that fail.
struct Assessment {
    exposure: f64,
    failed: BTreeSet<String>,
    report: String,
}

fn assess(analyze: &str, unit: &Path) -> Assessment {
    let out = Command::new(analyze)
        .args(["security", "--offline=yes", "--no-pager"])
        .arg(unit)
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "systemd-analyze security failed: {report}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let exposure = report
        .lines()
        .find_map(|line| {
            line.split_once("Overall exposure level for ")?
                .1
                .split_once(": ")
        })
        .and_then(|(_, rest)| rest.split_whitespace().next()?.parse().ok())
        .unwrap_or_else(|| panic!("no overall exposure in: {report}"));
    let failed = report
        .lines()
        .filter_map(|line| line.strip_prefix("✗ "))
        .filter_map(|rest| rest.split_whitespace().next())
        .map(str::to_owned)
        .collect();
    Assessment {
        exposure,
        failed,
        report,
    }
}

/// The checks a hub's service cannot pass: it runs on the host's root (no image of its own),
/// listens and connects on the Internet (arXiv, Hugging Face, SMTP, webhooks, PostgreSQL: no
/// private network, no address allow-list), takes local sockets (AF_UNIX: the journal, a
/// PostgreSQL socket), and `ProtectClock=` itself grants read access to the RTC device.
const SERVE_CANNOT_PASS: [&str; 6] = [
    "RootDirectory=/RootImage=",
    "RestrictAddressFamilies=~AF_UNIX",
    "RestrictAddressFamilies=~AF_(INET|INET6)",
    "PrivateNetwork=",
    "IPAddressDeny=",
    "DeviceAllow=",
];

/// The backup needs no network at all: only the root, the local sockets and the RTC remain.
const BACKUP_CANNOT_PASS: [&str; 4] = [
    "RootDirectory=/RootImage=",
    "RestrictAddressFamilies=~AF_UNIX",
    "IPAddressDeny=",
    "DeviceAllow=",
];

/// The highest overall exposure accepted (systemd-analyze's 0–10 scale; 1.1 and 0.4 today).
/// What is left is what a network service cannot close (above), so any other check that
/// starts failing fails this test by name; the thresholds also catch a check losing ground
/// without failing outright, with room for nothing more than systemd's rounding.
const SERVE_MAX_EXPOSURE: f64 = 1.2;
const BACKUP_MAX_EXPOSURE: f64 = 0.5;

#[test]
fn the_example_config_for_the_service_is_read_and_checked() {
    let config = workspace_root().join("contrib/systemd/paperfeed.toml");
    let shown = ok(bin()
        .arg("--config")
        .arg(&config)
        .arg("config")
        .output()
        .unwrap());
    assert!(
        shown.contains("data_dir = \"/var/lib/paperfeed\""),
        "{shown}"
    );
    assert!(shown.contains("\"127.0.0.1\""), "trusted proxies: {shown}");
    // The unit lets the hub write the data directory and nothing else: they must agree.
    assert!(unit_text("paperfeed.service").contains("ReadWritePaths=/var/lib/paperfeed\n"));
}

#[test]
fn the_systemd_units_verify_and_their_sandbox_rates_no_worse_than_today() {
    let Some(analyze) = tool("systemd-analyze") else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let units = units_for_this_build(dir.path());
    let out = Command::new(&analyze)
        .args(["verify", "--man=no"])
        .args(&units)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "systemd-analyze verify: {said}");
    // verify exits 0 on what it only warns about (an option it ignores, a bad value): any
    // word from it is a finding.
    assert!(said.trim().is_empty(), "systemd-analyze verify: {said}");

    // The sysusers file makes the user the units run as (into a scratch root, not this
    // machine's /etc).
    if let Some(sysusers) = tool("systemd-sysusers") {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir(root.path().join("etc")).unwrap();
        let out = Command::new(sysusers)
            .arg(format!("--root={}", root.path().display()))
            .arg(
                workspace_root()
                    .join("contrib/systemd/paperfeed.sysusers")
                    .canonicalize()
                    .unwrap(),
            )
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let passwd = std::fs::read_to_string(root.path().join("etc/passwd")).unwrap();
        assert!(
            passwd.lines().any(|l| l.starts_with("paperfeed:")
                && l.ends_with(":/var/lib/paperfeed:/usr/sbin/nologin")),
            "{passwd}"
        );
        assert!(units.iter().take(2).all(|unit| {
            std::fs::read_to_string(unit)
                .unwrap()
                .contains("\nUser=paperfeed\n")
        }));
    }

    for (unit, max, cannot_pass) in [
        (&units[0], SERVE_MAX_EXPOSURE, &SERVE_CANNOT_PASS[..]),
        (&units[1], BACKUP_MAX_EXPOSURE, &BACKUP_CANNOT_PASS[..]),
    ] {
        let assessment = assess(&analyze, unit);
        let unexpected: Vec<&String> = assessment
            .failed
            .iter()
            .filter(|name| !cannot_pass.contains(&name.as_str()))
            .collect();
        assert!(
            unexpected.is_empty(),
            "{} fails sandbox checks it used to pass: {unexpected:?}\n{}",
            unit.display(),
            assessment.report
        );
        assert!(
            assessment.exposure <= max,
            "{} is rated {} (at most {max} accepted)\n{}",
            unit.display(),
            assessment.exposure,
            assessment.report
        );
    }
}

/// The system calls a unit's `SystemCallFilter=` lines allow: the allow-lists' sets, less the
/// deny-lists' (`~…`), groups expanded with `systemd-analyze syscall-filter`.
fn allowed_system_calls(analyze: &str, unit: &str) -> BTreeSet<String> {
    let out = Command::new(analyze)
        .args(["syscall-filter", "--no-pager"])
        .output()
        .unwrap();
    let listing = String::from_utf8_lossy(&out.stdout).into_owned();
    let mut groups: std::collections::BTreeMap<String, Vec<String>> = Default::default();
    let mut current = None;
    for line in listing.lines() {
        let line = line.trim_end();
        if line.starts_with('@') {
            current = Some(line.trim().to_owned());
            groups.insert(line.trim().to_owned(), Vec::new());
        } else if let Some(group) = &current {
            let entry = line.trim();
            if !entry.is_empty() && !entry.starts_with('#') {
                groups.get_mut(group).unwrap().push(entry.to_owned());
            }
        }
    }
    fn expand(
        groups: &std::collections::BTreeMap<String, Vec<String>>,
        item: &str,
        into: &mut BTreeSet<String>,
    ) {
        if item.starts_with('@') {
            for member in groups
                .get(item)
                .unwrap_or_else(|| panic!("unknown system call group {item}"))
            {
                expand(groups, member, into);
            }
        } else {
            into.insert(item.to_owned());
        }
    }
    let mut allowed = BTreeSet::new();
    let mut denied = BTreeSet::new();
    for value in unit
        .lines()
        .filter_map(|line| line.trim().strip_prefix("SystemCallFilter="))
    {
        let (list, items) = match value.strip_prefix('~') {
            Some(rest) => (&mut denied, rest),
            None => (&mut allowed, value),
        };
        for item in items.split_whitespace() {
            expand(&groups, item, list);
        }
    }
    assert!(!allowed.is_empty(), "the unit has no SystemCallFilter=");
    allowed.difference(&denied).cloned().collect()
}

/// The address families a unit's `RestrictAddressFamilies=` allows.
fn allowed_families(unit: &str) -> BTreeSet<String> {
    unit.lines()
        .filter_map(|line| line.trim().strip_prefix("RestrictAddressFamilies="))
        .flat_map(str::split_whitespace)
        .map(str::to_owned)
        .collect()
}

/// One system call as strace printed it (`-f -y`): its name and its arguments as far as they
/// were printed.
struct Call<'a> {
    name: &'a str,
    args: &'a str,
}

fn calls(trace: &str) -> impl Iterator<Item = Call<'_>> {
    trace.lines().filter_map(|line| {
        // "1234 openat(AT_FDCWD</dir>, \"x\", O_RDONLY) = 3"; "<... read resumed>" lines only
        // finish a call already seen.
        let rest = line.split_once(' ')?.1.trim_start();
        let open = rest.find('(')?;
        let name = &rest[..open];
        if name.is_empty() || !name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return None;
        }
        Some(Call {
            name,
            args: &rest[open + 1..],
        })
    })
}

/// The calls that write at a path: create, truncate, open for writing, rename, remove, link,
/// change modes or owners.
fn writes(call: &Call<'_>) -> bool {
    match call.name {
        "open" | "openat" | "openat2" => ["O_WRONLY", "O_RDWR", "O_CREAT", "O_TRUNC"]
            .iter()
            .any(|flag| call.args.contains(flag)),
        "creat" | "mkdir" | "mkdirat" | "rmdir" | "unlink" | "unlinkat" | "rename" | "renameat"
        | "renameat2" | "link" | "linkat" | "symlink" | "symlinkat" | "truncate" | "chmod"
        | "fchmodat" | "chown" | "lchown" | "fchownat" | "mknod" | "mknodat" | "utimensat"
        | "setxattr" | "lsetxattr" | "removexattr" | "lremovexattr" => true,
        _ => false,
    }
}

/// The calls whose string arguments are paths (a `read`'s or `write`'s are data).
fn names_paths(call: &Call<'_>) -> bool {
    writes(call)
        || matches!(
            call.name,
            "stat"
                | "lstat"
                | "newfstatat"
                | "statx"
                | "statfs"
                | "access"
                | "faccessat"
                | "faccessat2"
                | "readlink"
                | "readlinkat"
                | "execve"
                | "execveat"
                | "chdir"
                | "getxattr"
                | "lgetxattr"
                | "listxattr"
                | "llistxattr"
                | "inotify_add_watch"
        )
}

/// The paths a call names, absolute: a relative one is taken from the directory descriptor
/// printed before it (`-y`: `AT_FDCWD</cwd>`, `17</dir>`), else from `cwd`. A symlink's first
/// string is its target, not a path it writes.
fn paths(call: &Call<'_>, cwd: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if !names_paths(call) {
        return out;
    }
    let mut dir = cwd.to_path_buf();
    let mut rest = call.args;
    let mut strings = 0;
    loop {
        let quote = rest.find('"');
        let fd = rest.find('<');
        match (quote, fd) {
            (Some(q), f) if f.is_none_or(|f| q < f) => {
                let after = &rest[q + 1..];
                let mut end = 0;
                let bytes = after.as_bytes();
                while end < bytes.len() && bytes[end] != b'"' {
                    end += if bytes[end] == b'\\' { 2 } else { 1 };
                }
                let text = &after[..end.min(after.len())];
                strings += 1;
                let is_target = call.name.starts_with("symlink") && strings == 1;
                if !is_target {
                    let path = Path::new(text);
                    out.push(if path.is_absolute() {
                        path.to_path_buf()
                    } else {
                        dir.join(path)
                    });
                }
                rest = after.get(end + 1..).unwrap_or("");
            }
            (_, Some(f)) => {
                let after = &rest[f + 1..];
                let end = after.find('>').unwrap_or(after.len());
                dir = PathBuf::from(&after[..end]);
                rest = after.get(end + 1..).unwrap_or("");
            }
            _ => break,
        }
    }
    out
}

/// The /proc files outside the process's own entries (hidden by `ProcSubset=pid`) that the hub
/// may look for, each read by code that does without: `num_cpus::get_physical` (the
/// embedding's thread count) falls back to the logical CPU count, and glibc's malloc, shrinking
/// a thread's arena, to remapping the memory instead of advising the kernel it is unused.
const PROC_FILES_IT_DOES_WITHOUT: [&str; 2] = ["/proc/cpuinfo", "/proc/sys/vm/overcommit_memory"];

/// Devices left by `PrivateDevices=yes`.
const DEVICES: [&str; 8] = [
    "/dev/null",
    "/dev/zero",
    "/dev/full",
    "/dev/random",
    "/dev/urandom",
    "/dev/tty",
    "/dev/ptmx",
    "/dev/shm",
];

/// Everything in `trace` that the unit's sandbox would refuse, one line each.
fn breaches(trace: &str, unit: &str, analyze: &str, writable: &[&Path]) -> Vec<String> {
    let allowed = allowed_system_calls(analyze, unit);
    let families = allowed_families(unit);
    let cwd = std::env::current_dir().unwrap();
    // SQLite gives its -wal and -shm files the database's owner when it runs as root; the unit
    // runs it as paperfeed, where it never calls them.
    let root_only: BTreeSet<&str> = if is_root() {
        ["fchown", "fchownat", "chown", "lchown"].into()
    } else {
        BTreeSet::new()
    };
    let mut found = BTreeSet::new();
    for call in calls(trace) {
        if !allowed.contains(call.name) && !root_only.contains(call.name) {
            found.insert(format!(
                "system call outside SystemCallFilter=: {}",
                call.name
            ));
        }
        if matches!(call.name, "socket" | "socketpair") {
            let family = call.args.split([',', ')']).next().unwrap_or("").trim();
            if !families.contains(family) {
                found.insert(format!(
                    "socket family outside RestrictAddressFamilies=: {family}"
                ));
            }
        }
        for path in paths(&call, &cwd) {
            let text = path.to_string_lossy();
            if let Some(proc_path) = text.strip_prefix("/proc/") {
                let first = proc_path.split('/').next().unwrap_or("");
                let own = first == "self"
                    || first == "thread-self"
                    || first.bytes().all(|b| b.is_ascii_digit());
                if !own && !PROC_FILES_IT_DOES_WITHOUT.contains(&text.as_ref()) {
                    found.insert(format!("/proc beyond ProcSubset=pid: {text}"));
                }
            }
            if text.starts_with("/dev/")
                && !DEVICES
                    .iter()
                    .any(|d| text == *d || text.starts_with(&format!("{d}/")))
            {
                found.insert(format!("device outside PrivateDevices=: {text}"));
            }
            if writes(&call)
                && !writable.iter().any(|root| path.starts_with(root))
                && !["/dev/null", "/dev/zero", "/dev/full"].contains(&text.as_ref())
            {
                found.insert(format!(
                    "{} writes outside its directories: {text}",
                    call.name
                ));
            }
        }
    }
    found.into_iter().collect()
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|out| String::from_utf8_lossy(&out.stdout).trim() == "0")
}

/// strace writing to `out`: following threads and children (`-f`), file descriptors shown
/// with their paths (`-y`), strings long enough for any path, and as a detached grandchild
/// (`-D`) so the process started is the traced program itself (signals reach it, its exit is
/// the one waited for). `-q` keeps the "+++ exited" line that says the trace is complete.
fn strace_args(out: &Path) -> Vec<std::ffi::OsString> {
    let mut args: Vec<std::ffi::OsString> = ["strace", "-D", "-f", "-q", "-y", "-s", "1024", "-o"]
        .iter()
        .map(Into::into)
        .collect();
    args.push(out.into());
    args
}

/// The trace at `path` once the tracer has written the traced program's exit (a detached
/// tracer may finish writing a moment after the program ended).
async fn complete_trace(path: &Path) -> String {
    let deadline = std::time::Instant::now() + Duration::from_secs(30);
    loop {
        let trace = std::fs::read_to_string(path).unwrap_or_default();
        // The program's own exit is the last line the tracer writes.
        let last = trace.lines().rev().find(|line| !line.trim().is_empty());
        if last.is_some_and(|line| line.contains("+++ exited with")) {
            return trace;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the trace {} never ended",
            path.display()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn serve_and_backup_do_only_what_the_units_sandbox_allows() {
    let (Some(_), Some(analyze)) = (tool("strace"), tool("systemd-analyze")) else {
        return;
    };
    // Everything under target/, not /tmp: the private /tmp is writable in the unit, so a data
    // directory inside it would hide a write outside the data directory.
    // Canonical, as strace prints paths.
    let target = workspace_root().join("target").canonicalize().unwrap();
    let scratch = tempfile::tempdir_in(target).unwrap();
    let data = tempfile::tempdir_in(scratch.path()).unwrap();
    let backups = scratch.path().join("backups");
    std::fs::create_dir(&backups).unwrap();
    let day = fixture("crates/paperfeed-ingest/tests/fixtures/2024-03-12.json");
    ok(bin()
        .arg("--data-dir")
        .arg(data.path())
        .arg("ingest")
        .arg(&day)
        .output()
        .unwrap());

    let serve_trace = scratch.path().join("serve.trace");
    let wrapper = strace_args(&serve_trace);
    let wrapper: Vec<&OsStr> = wrapper.iter().map(|a| a.as_os_str()).collect();
    // The embedding model when it is here (computing vectors runs candle's thread pool), the
    // polling of a source (its fetcher: a connection refused on loopback, no retries).
    let model = crate::harness::model_dir();
    let mut envs: Vec<(&str, &OsStr)> = vec![
        ("PAPERFEED_SOURCES__HF__POLL", OsStr::new("true")),
        (
            "PAPERFEED_SOURCES__HF__BASE_URL",
            OsStr::new("http://127.0.0.1:9"),
        ),
        ("PAPERFEED_SOURCES__HF__RETRIES", OsStr::new("0")),
    ];
    if let Some(model) = &model {
        envs.push(("PAPERFEED_SEARCH__MODEL_DIR", model.as_os_str()));
    }
    let data_dir = data.path().to_path_buf();
    let mut server = Server::start_via(&wrapper, &["--no-sample"], data, &envs, Stdio::inherit());
    server.wait_for_index(model.is_some()).await;
    for path in [
        "/",
        "/papers?q=language+model",
        "/papers/2403.06634",
        "/api/daily_papers?date=2024-03-12",
        "/feed.xml",
        "/status",
        "/readyz",
    ] {
        let (status, body) = server.get(path).await;
        assert_eq!(status, 200, "{path}: {body}");
    }
    let mut ada = Visitor::new(&server);
    assert_eq!(ada.sign_up("ada").await.status, 303);
    assert_eq!(ada.get("/account").await.status, 200);

    // The nightly backup, while the hub serves.
    let backup_trace = scratch.path().join("backup.trace");
    let mut backup = Command::new("strace");
    backup
        .args(strace_args(&backup_trace).into_iter().skip(1))
        .arg(env!("CARGO_BIN_EXE_paperfeed"))
        .arg("--data-dir")
        .arg(&data_dir)
        .args(["backup", "--force"])
        .arg(backups.join("paperfeed.sqlite3"));
    for (key, _) in std::env::vars_os() {
        if key.to_string_lossy().starts_with("PAPERFEED_") {
            backup.env_remove(key);
        }
    }
    let out = backup.output().unwrap();
    assert!(
        out.status.success(),
        "backup: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Stopped as systemd stops it: SIGTERM to the hub (strace ends with it).
    server.signal("TERM");
    let status = server
        .wait_exit(Duration::from_secs(60))
        .expect("the hub did not stop on SIGTERM");
    assert!(status.success(), "the hub exited with {status}");

    let tmp: [&Path; 2] = [Path::new("/tmp"), Path::new("/var/tmp")];
    let serve_unit = unit_text("paperfeed.service");
    let trace = complete_trace(&serve_trace).await;
    assert!(
        trace.contains("accept4(") && trace.contains("fsync("),
        "the trace holds what serve did"
    );
    let found = breaches(&trace, &serve_unit, &analyze, &[&data_dir, tmp[0], tmp[1]]);
    assert!(
        found.is_empty(),
        "serve under paperfeed.service would fail:\n{}",
        found.join("\n")
    );
    let backup_unit = unit_text("paperfeed-backup.service");
    let trace = complete_trace(&backup_trace).await;
    let found = breaches(
        &trace,
        &backup_unit,
        &analyze,
        &[&data_dir, &backups, tmp[0], tmp[1]],
    );
    assert!(
        found.is_empty(),
        "backup under paperfeed-backup.service would fail:\n{}",
        found.join("\n")
    );
}

#[test]
fn strace_lines_are_read_into_calls_and_absolute_paths() {
    let trace = "\
12 openat(AT_FDCWD</srv/data>, \"index/meta.json\", O_RDWR|O_CREAT|O_CLOEXEC, 0644) = 5</srv/data/index/meta.json>
12 renameat(17</srv/data/index>, \".tmp1\", 17</srv/data/index>, \"meta.json\") = 0
13 <... read resumed>\"abc\", 3) = 3
13 read(5</srv/data/x>,  <unfinished ...>
14 openat(AT_FDCWD</srv/data>, \"/proc/cpuinfo\", O_RDONLY|O_CLOEXEC) = 6
14 symlinkat(\"target\", AT_FDCWD</srv/data>, \"/etc/evil\") = 0
";
    let calls: Vec<Call<'_>> = calls(trace).collect();
    let names: Vec<&str> = calls.iter().map(|c| c.name).collect();
    assert_eq!(names, ["openat", "renameat", "read", "openat", "symlinkat"]);
    let cwd = Path::new("/elsewhere");
    assert!(writes(&calls[0]));
    assert_eq!(
        paths(&calls[0], cwd),
        [PathBuf::from("/srv/data/index/meta.json")]
    );
    assert_eq!(
        paths(&calls[1], cwd),
        [
            PathBuf::from("/srv/data/index/.tmp1"),
            PathBuf::from("/srv/data/index/meta.json")
        ]
    );
    assert!(!writes(&calls[3]));
    assert!(paths(&calls[2], cwd).is_empty(), "a read's string is data");
    assert_eq!(paths(&calls[4], cwd), [PathBuf::from("/etc/evil")]);
    assert!(writes(&calls[4]));
}
