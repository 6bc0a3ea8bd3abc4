//! The disk under the SQLite file full: writes are refused with a 503 and `Retry-After`
//! (never a 500), reads go on, nothing is half written, the file stays sound, and the
//! service takes writes again, without a restart, once space returns.

use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

use iro_advice_testkit::{json, log_verify, spawn_binary_app_in, Backend};

/// A small tmpfs of the test's own, unmounted when the test ends however it ends.
struct Mounted(PathBuf);

impl Mounted {
    fn new(at: PathBuf, size: &str) -> Self {
        let status = Command::new("mount")
            .args([
                "-t",
                "tmpfs",
                "-o",
                &format!("size={size},mode=0700"),
                "tmpfs",
            ])
            .arg(&at)
            .status()
            .expect("mount");
        assert!(
            status.success(),
            "the full-disk test mounts a small tmpfs, which needs root (CI runs as root)"
        );
        Mounted(at)
    }
}

impl Drop for Mounted {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.0).status();
    }
}

/// Takes every free byte of the file system `dir` is on.
fn fill(dir: &std::path::Path) -> PathBuf {
    use std::io::Write;
    let path = dir.join("filler");
    let mut file = std::fs::File::create(&path).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    loop {
        if file.write_all(&chunk).and_then(|_| file.flush()).is_err() {
            break;
        }
    }
    // The last bytes a smaller write still finds.
    while file.write_all(&[0u8; 512]).is_ok() {}
    path
}

#[actix_web::test]
async fn a_full_disk_refuses_writes_clearly_and_recovers() {
    let _serial = crate::serial().await;
    let mount_point = tempfile::tempdir().unwrap();
    let mounted = Mounted::new(mount_point.path().to_owned(), "24m");
    let data_dir = tempfile::tempdir_in(&mounted.0).unwrap();
    let app = spawn_binary_app_in(Backend::Sqlite, data_dir, &[])
        .await
        .unwrap();
    let iro = crate::iros(&app, 1).await.remove(0);
    let (reports_before, leaves_before) = (app.count("pressure_reports"), app.count("log_leaves"));

    let filler = fill(&mounted.0);
    let mut acknowledged = Vec::new();
    let mut refused = Vec::new();
    // Enough writes that the file must grow: what free pages it had are used up first.
    for _ in 0..300 {
        let res = app
            .post_json(
                "/api/v1/pressure-reports",
                Some(&iro.access),
                &crate::report(),
            )
            .await;
        match res.status().as_u16() {
            201 => acknowledged.push(json(res, 201).await),
            status => {
                let retry = res.headers().contains_key("retry-after");
                let body: Value = res.json().await.unwrap_or(Value::Null);
                refused.push((status, retry, body["type"].clone()));
            }
        }
    }
    assert!(!refused.is_empty(), "no write was refused on a full disk");
    assert!(
        refused.iter().all(|(s, r, _)| *s == 503 && *r),
        "refusals other than 503 with Retry-After: {:?}; the service said:\n{}",
        &refused[..refused.len().min(5)],
        app.server_log_lines("internal error")
    );
    assert!(refused[0]
        .2
        .as_str()
        .unwrap()
        .ends_with("service-unavailable"));
    // Reads go on.
    let listed = json(
        app.get_auth("/api/v1/pressure-reports", &iro.access).await,
        200,
    )
    .await;
    assert_eq!(listed.as_array().unwrap().len(), acknowledged.len());

    // Space returns: the same process takes writes again.
    std::fs::remove_file(filler).unwrap();
    let res = app
        .post_json(
            "/api/v1/pressure-reports",
            Some(&iro.access),
            &crate::report(),
        )
        .await;
    acknowledged.push(json(res, 201).await);

    let reports = app.count("pressure_reports") - reports_before;
    let leaves = app.count("log_leaves") - leaves_before;
    assert_eq!(
        reports,
        acknowledged.len() as i64,
        "a refused report was kept"
    );
    assert_eq!(leaves, reports, "a report without its leaf, or the reverse");
    {
        use diesel::prelude::*;
        #[derive(QueryableByName)]
        struct Check {
            #[diesel(sql_type = diesel::sql_types::Text)]
            integrity_check: String,
        }
        let db = app.database();
        let mut conn = db.get().unwrap();
        let check: Vec<Check> = diesel::sql_query("PRAGMA integrity_check")
            .load(&mut *conn)
            .unwrap();
        assert_eq!(check.len(), 1);
        assert_eq!(check[0].integrity_check, "ok");
    }
    let (ok, text) = log_verify(&app);
    assert!(ok, "{text}");
    drop(app);
}
