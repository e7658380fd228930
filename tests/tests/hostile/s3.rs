//! S3 keys that leave their granted prefix through `..` (issue 11, item 10):
//! refused whatever the grant's glob matches textually.

use drhost_tests::cli::{self, Run};
use drhost_tests::lab::Lab;

#[test]
fn dot_segments_cannot_leave_the_granted_prefix() {
    let _serial = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let secrets = lab.path(".lab/secrets");
    let config = cli::config(&format!(
        "[targets.s3.backups]\nendpoint = \"{}\"\nregion = \"{}\"\nbucket = \"{}\"\npath_style = true\n\
         access_key = \"file:{}\"\nsecret_key = \"file:{}\"\n\n\
         [[plugins.db-poke.s3]]\ntarget = \"backups\"\nprefixes = [\"supabase/*\"]\naccess = [\"read\", \"write\"]\n\n\
         [targets.postgres.primary]\nurl = \"postgresql://nobody@127.0.0.1:1/none\"\n\n\
         [[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n",
        lab.get("S3_ENDPOINT").unwrap(),
        lab.get("S3_REGION").unwrap(),
        lab.s3_bucket().unwrap(),
        secrets.join("s3-access-key").display(),
        secrets.join("s3-secret-key").display(),
    ));
    for (op, key) in [
        ("s3-get", "supabase/../vault/vault-snapshot.snap"),
        ("s3-get", "supabase/./backup_latest.dump"),
        ("s3-put", "supabase/../planted.txt"),
        ("s3-put", "supabase//planted.txt"),
    ] {
        let out = Run::fixture("db-poke")
            .config(&config)
            .json()
            .param("op", op)
            .param("key", key)
            .exec();
        assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
        assert_eq!(
            out.fact("error-kind").as_deref(),
            Some("access-denied"),
            "{op} {key}: {}",
            out.stdout
        );
        assert!(
            out.fact("error")
                .unwrap()
                .contains("must not contain `.` or `..` segments"),
            "{}",
            out.stdout
        );
    }
}
