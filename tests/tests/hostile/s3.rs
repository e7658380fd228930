//! S3 keys that leave their granted prefix through `..` (issue 11, item 10):
//! refused whatever the grant's glob matches textually; and listings that
//! would not end (item 7): paging stops at drhost's cap and the call fails
//! whole, on the lab's real bucket and on an endpoint that never stops.

use drhost_tests::cli::{self, Run};
use drhost_tests::lab::runtime as rt;
use drhost_tests::lab::Lab;
use drhost_tests::stub::{http_reply, HttpStub};

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

/// `[targets.s3.backups]` at `endpoint` (bucket `bucket`, the lab's
/// credentials) with `read` on `prefix*`, and the dummy postgres target
/// db-poke's `describe` asks for.
fn list_config(lab: &Lab, endpoint: &str, bucket: &str, prefix: &str) -> drhost_tests::tmp::TmpFile {
    let secrets = lab.path(".lab/secrets");
    cli::config(&format!(
        "[targets.s3.backups]\nendpoint = \"{endpoint}\"\nregion = \"{}\"\nbucket = \"{bucket}\"\npath_style = true\n\
         access_key = \"file:{}\"\nsecret_key = \"file:{}\"\n\n\
         [[plugins.db-poke.s3]]\ntarget = \"backups\"\nprefixes = [\"{prefix}*\"]\naccess = [\"read\"]\n\n\
         [targets.postgres.primary]\nurl = \"postgresql://nobody@127.0.0.1:1/none\"\n\n\
         [[plugins.db-poke.postgres]]\ntarget = \"primary\"\naccess = [\"read\"]\n",
        lab.get("S3_REGION").unwrap(),
        secrets.join("s3-access-key").display(),
        secrets.join("s3-secret-key").display(),
    ))
}

fn list(config: &std::path::Path, prefix: &str) -> cli::Outcome {
    let out = Run::fixture("db-poke")
        .config(config)
        .json()
        .timeout("120s")
        .params(&[("op", "s3-list"), ("prefix", prefix)])
        .exec();
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    out
}

fn assert_over_the_list_cap(out: &cli::Outcome) {
    let cap = drhost::caps::s3::MAX_LIST_KEYS;
    assert_eq!(
        out.fact("error-kind").as_deref(),
        Some("invalid-argument"),
        "{}",
        out.stdout
    );
    let message = out.fact("error").unwrap();
    assert!(
        message.contains(&format!("more than {cap} keys start with it, drhost's cap per call"))
            && message.contains("list a longer prefix"),
        "{message}"
    );
    let journal = out.journal();
    assert_eq!(
        cli::calls(&journal, "s3.list")[0]["outcome"]["error"]["kind"],
        "invalid-argument"
    );
}

#[test]
fn a_listing_that_never_ends_stops_paging_at_the_cap() {
    // A broken or hostile endpoint: every page is full and says there is more.
    let lab = Lab::load().unwrap();
    let contents: String = (0..1000)
        .map(|i| format!("<Contents><Key>p/k{i:04}</Key><LastModified>2026-01-01T00:00:00.000Z</LastModified><ETag>\"e\"</ETag><Size>1</Size><StorageClass>STANDARD</StorageClass></Contents>"))
        .collect();
    let page = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<ListBucketResult xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\"><Name>b</Name><Prefix>p/</Prefix><KeyCount>1000</KeyCount><MaxKeys>1000</MaxKeys><IsTruncated>true</IsTruncated><NextContinuationToken>more</NextContinuationToken>{contents}</ListBucketResult>"
    );
    let endless = HttpStub::start(|_| http_reply("200 OK", "", "application/xml", &page));
    let config = list_config(&lab, &format!("http://127.0.0.1:{}", endless.port), "b", "p/");
    let out = list(&config, "p/");
    assert_over_the_list_cap(&out);
    let pages = endless.heads().len();
    let cap_pages = drhost::caps::s3::MAX_LIST_KEYS / 1000;
    assert_eq!(pages, cap_pages + 1, "pages asked for");
    assert!(out.elapsed < std::time::Duration::from_secs(60), "{:?}", out.elapsed);
}

#[test]
fn a_bucket_listing_over_the_cap_is_refused_whole() {
    let _serial = drhost_tests::lab::serial();
    let lab = Lab::load().unwrap();
    let prefix = "drhost-hostile-list/";
    let s3 = lab.s3_client().unwrap();
    let bucket = lab.s3_bucket().unwrap().to_string();
    let cap = drhost::caps::s3::MAX_LIST_KEYS;
    let objects = Objects::new(&s3, &bucket, prefix);
    objects.put(cap + 1);
    let config = list_config(&lab, lab.get("S3_ENDPOINT").unwrap(), &bucket, prefix);

    // One key more than the cap: refused whole, naming the cap.
    assert_over_the_list_cap(&list(&config, prefix));
    // Exactly the cap: listed whole.
    objects.delete_one();
    let out = list(&config, prefix);
    assert_eq!(out.fact("error-kind"), None, "{}", out.stdout);
    assert_eq!(out.fact("count").as_deref(), Some(cap.to_string().as_str()));
}

/// Empty objects `PREFIX000000…` in the lab's bucket, all removed on drop.
struct Objects<'a> {
    s3: &'a aws_sdk_s3::Client,
    bucket: &'a str,
    prefix: &'a str,
}

impl<'a> Objects<'a> {
    fn new(s3: &'a aws_sdk_s3::Client, bucket: &'a str, prefix: &'a str) -> Objects<'a> {
        let objects = Objects { s3, bucket, prefix };
        objects.clean();
        objects
    }

    fn key(&self, i: usize) -> String {
        format!("{}{i:06}", self.prefix)
    }

    fn put(&self, count: usize) {
        use futures_util::StreamExt;
        rt().block_on(async {
            let puts = futures_util::stream::iter(0..count).map(|i| {
                self.s3
                    .put_object()
                    .bucket(self.bucket)
                    .key(self.key(i))
                    .body(Vec::new().into())
                    .send()
            });
            let failed = puts
                .buffer_unordered(32)
                .filter(|r| std::future::ready(r.is_err()))
                .count()
                .await;
            assert_eq!(failed, 0, "puts failed");
        });
    }

    fn delete_one(&self) {
        rt().block_on(self.s3.delete_object().bucket(self.bucket).key(self.key(0)).send())
            .unwrap();
    }

    fn clean(&self) {
        use aws_sdk_s3::types::{Delete, ObjectIdentifier};
        rt().block_on(async {
            loop {
                let listed = self
                    .s3
                    .list_objects_v2()
                    .bucket(self.bucket)
                    .prefix(self.prefix)
                    .send()
                    .await;
                let Ok(listed) = listed else { return };
                let keys: Vec<ObjectIdentifier> = listed
                    .contents()
                    .iter()
                    .filter_map(|o| ObjectIdentifier::builder().key(o.key()?).build().ok())
                    .collect();
                if keys.is_empty() {
                    return;
                }
                let delete = Delete::builder().set_objects(Some(keys)).build().unwrap();
                let _ = self.s3.delete_objects().bucket(self.bucket).delete(delete).send().await;
            }
        });
    }
}

impl Drop for Objects<'_> {
    fn drop(&mut self) {
        self.clean();
    }
}
