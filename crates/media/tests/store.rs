//! The media store's contract, written once and run on every backend: the
//! directory always, and an S3 bucket on the S3-protocol server too with
//! `TEST_MEDIA=s3` (scripts/s3-server.sh; the server must then answer, or
//! these tests fail). Whole files and streams round trip, ranges read
//! what they name, nothing is visible before `finish`, and an upload
//! aborted or dropped midway leaves nothing — no object, no staging file,
//! no multipart upload or part on S3.

#[path = "../../fussioncord/tests/common/s3.rs"]
mod s3;

use std::path::Path;
use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use media::{Key, Media, MediaConfig, PART_BYTES};
use model::id::{AttachmentMarker, ChannelMarker, Id};

/// A media store under test and what it stores into.
struct Backend {
    media: Media,
    /// The directory, or the bucket.
    place: Place,
    _data: tempfile::TempDir,
}

enum Place {
    Dir(std::path::PathBuf),
    Bucket(String),
}

impl Backend {
    async fn all() -> Vec<Backend> {
        let mut out = vec![Self::open(None).await];
        if s3::media_backend() == "s3" {
            out.push(Self::open(Some(s3::fresh_bucket().await)).await);
        }
        out
    }

    async fn open(bucket: Option<String>) -> Self {
        let data = tempfile::tempdir().unwrap();
        let mut config = MediaConfig::default();
        let place = match bucket {
            Some(bucket) => {
                config.s3 = Some(s3::config(&bucket));
                Place::Bucket(bucket)
            }
            None => Place::Dir(config.dir(data.path())),
        };
        let media = Media::open(&config, data.path(), "http://127.0.0.1:1").expect("open the media store");
        Self { media, place, _data: data }
    }

    fn name(&self) -> &'static str {
        match self.place {
            Place::Dir(_) => "directory",
            Place::Bucket(_) => "s3",
        }
    }

    /// Everything stored: files (staging files too) or objects and
    /// multipart uploads in progress.
    async fn everything(&self) -> Vec<String> {
        match &self.place {
            Place::Dir(dir) => {
                fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
                    let Ok(entries) = std::fs::read_dir(dir) else { return };
                    for e in entries {
                        let path = e.unwrap().path();
                        if path.is_dir() {
                            walk(&path, root, out);
                        } else {
                            out.push(path.strip_prefix(root).unwrap().to_string_lossy().into_owned());
                        }
                    }
                }
                let mut out = Vec::new();
                walk(dir, dir, &mut out);
                out.sort();
                out
            }
            Place::Bucket(bucket) => s3::keys(bucket, "").await,
        }
    }

    /// Whole parts of unfinished uploads held: S3's stored parts, or the
    /// staging files' bytes in whole parts.
    async fn parts_in_progress(&self) -> usize {
        match &self.place {
            Place::Dir(dir) => self
                .everything()
                .await
                .iter()
                .filter(|k| k.contains('#'))
                .map(|k| std::fs::metadata(dir.join(k)).map_or(0, |m| m.len() as usize / PART_BYTES))
                .sum(),
            Place::Bucket(bucket) => s3::stored_parts(bucket, "").await,
        }
    }

    async fn until_empty(&self) {
        let mut left = self.everything().await;
        for _ in 0..100 {
            if left.is_empty() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
            left = self.everything().await;
        }
        panic!("{}: left behind: {left:?}", self.name());
    }
}

fn key(channel: u64, attachment: u64) -> Key {
    Key::attachment(Id::<ChannelMarker>::new(channel), Id::<AttachmentMarker>::new(attachment))
}

/// `len` bytes that differ from one position to the next.
fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

async fn read_all(
    media: &Media,
    key: &Key,
    range: Option<std::ops::Range<u64>>,
) -> (u64, std::ops::Range<u64>, Vec<u8>) {
    let object = media.get(key, range).await.unwrap().expect("an object");
    let mut body = object.body;
    let mut bytes = Vec::new();
    while let Some(chunk) = body.next().await {
        bytes.extend_from_slice(&chunk.unwrap());
    }
    (object.size, object.range, bytes)
}

#[tokio::test]
async fn whole_files_round_trip_and_deletes_are_idempotent() {
    for b in Backend::all().await {
        let (m, name) = (&b.media, b.name());
        let k = key(1, 2);
        assert_eq!(m.size(&k).await.unwrap(), None, "{name}");
        assert_eq!(m.get_bytes(&k).await.unwrap(), None, "{name}");
        assert_eq!(m.head_bytes(&k, 16).await.unwrap(), None, "{name}");
        assert!(m.get(&k, None).await.unwrap().is_none(), "{name}");
        let bytes = pattern(1000);
        m.put(&k, Bytes::from(bytes.clone())).await.unwrap();
        assert_eq!(m.size(&k).await.unwrap(), Some(1000), "{name}");
        assert_eq!(m.get_bytes(&k).await.unwrap().unwrap().to_vec(), bytes, "{name}");
        assert_eq!(m.head_bytes(&k, 16).await.unwrap().unwrap().to_vec(), bytes[..16], "{name}");
        assert_eq!(read_all(m, &k, Some(10..20)).await, (1000, 10..20, bytes[10..20].to_vec()), "{name}");
        assert_eq!(b.everything().await, ["attachments/1/2"], "{name}");
        // An empty file: no byte 0 for a range to start at.
        let empty = key(1, 3);
        m.put(&empty, Bytes::new()).await.unwrap();
        assert_eq!(m.size(&empty).await.unwrap(), Some(0), "{name}");
        assert_eq!(m.head_bytes(&empty, 16).await.unwrap().unwrap().len(), 0, "{name}");
        assert_eq!(m.get_bytes(&empty).await.unwrap().unwrap().len(), 0, "{name}");
        // Replaced whole.
        m.put(&k, Bytes::from_static(b"new")).await.unwrap();
        assert_eq!(m.get_bytes(&k).await.unwrap().unwrap().as_ref(), b"new", "{name}");
        m.delete(&k).await.unwrap();
        m.delete(&k).await.unwrap();
        m.delete(&empty).await.unwrap();
        assert_eq!(m.size(&k).await.unwrap(), None, "{name}");
        assert_eq!(b.everything().await, Vec::<String>::new(), "{name}");
    }
}

#[tokio::test]
async fn a_stream_of_several_parts_is_invisible_until_finished_and_reads_back_in_ranges() {
    for b in Backend::all().await {
        let (m, name) = (&b.media, b.name());
        let k = key(5, 6);
        let bytes = pattern(2 * PART_BYTES + 123_457);
        let mut writer = m.writer(&k).await.unwrap();
        // Chunks that do not line up with the parts.
        for chunk in bytes.chunks(700_001) {
            writer.write(Bytes::copy_from_slice(chunk)).await.unwrap();
        }
        assert_eq!(writer.size(), bytes.len() as u64, "{name}");
        assert_eq!(m.size(&k).await.unwrap(), None, "{name}: nothing visible before finish");
        let written = writer.finish().await.unwrap();
        assert_eq!(written.size, bytes.len() as u64, "{name}");
        assert_eq!(written.head, bytes[..media::HEAD_BYTES], "{name}");
        assert_eq!(m.size(&k).await.unwrap(), Some(bytes.len() as u64), "{name}");
        let (size, range, all) = read_all(m, &k, None).await;
        assert_eq!((size, range), (bytes.len() as u64, 0..bytes.len() as u64), "{name}");
        assert!(all == bytes, "{name}: the whole file reads back");
        // Across the first part's end.
        let across = (PART_BYTES - 10) as u64..(PART_BYTES + 10) as u64;
        let (size, range, got) = read_all(m, &k, Some(across.clone())).await;
        assert_eq!(
            (size, range, got),
            (bytes.len() as u64, across.clone(), bytes[across.start as usize..across.end as usize].to_vec()),
            "{name}"
        );
        // Only the object: no parts or staging files left.
        assert_eq!(b.everything().await, ["attachments/5/6"], "{name}");
        if let Place::Bucket(bucket) = &b.place {
            assert_eq!(s3::uploads(bucket, "").await, Vec::<String>::new());
        }
    }
}

#[tokio::test]
async fn an_empty_stream_and_a_small_one_finish_as_files() {
    for b in Backend::all().await {
        let (m, name) = (&b.media, b.name());
        let (empty, small) = (key(3, 1), key(3, 2));
        let written = m.writer(&empty).await.unwrap().finish().await.unwrap();
        assert_eq!((written.size, written.head.len()), (0, 0), "{name}");
        assert_eq!(m.size(&empty).await.unwrap(), Some(0), "{name}");
        assert_eq!(m.get_bytes(&empty).await.unwrap().unwrap().len(), 0, "{name}");
        let mut writer = m.writer(&small).await.unwrap();
        writer.write(Bytes::from_static(b"hello ")).await.unwrap();
        writer.write(Bytes::from_static(b"world")).await.unwrap();
        let written = writer.finish().await.unwrap();
        assert_eq!((written.size, written.head.as_slice()), (11, &b"hello world"[..]), "{name}");
        assert_eq!(m.get_bytes(&small).await.unwrap().unwrap().as_ref(), b"hello world", "{name}");
        assert_eq!(b.everything().await, ["attachments/3/1", "attachments/3/2"], "{name}");
    }
}

/// A writer with one whole part stored and more bytes buffered.
async fn half_written(b: &Backend, k: &Key) -> media::Writer {
    let mut writer = b.media.writer(k).await.unwrap();
    writer.write(Bytes::from(pattern(PART_BYTES + 1024))).await.unwrap();
    let mut parts = 0;
    for _ in 0..100 {
        parts = b.parts_in_progress().await;
        if parts > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(parts, 1, "{}: one part stored", b.name());
    assert_eq!(b.media.size(k).await.unwrap(), None, "{}: nothing visible", b.name());
    writer
}

#[tokio::test]
async fn an_aborted_writer_leaves_nothing() {
    for b in Backend::all().await {
        let k = key(7, 8);
        let writer = half_written(&b, &k).await;
        writer.abort().await;
        assert_eq!(b.everything().await, Vec::<String>::new(), "{}", b.name());
        assert_eq!(b.parts_in_progress().await, 0, "{}", b.name());
    }
}

#[tokio::test]
async fn a_writer_dropped_unfinished_leaves_nothing() {
    for b in Backend::all().await {
        let k = key(7, 9);
        let writer = half_written(&b, &k).await;
        // As when the request writing it goes away with its client.
        drop(writer);
        b.until_empty().await;
        assert_eq!(b.parts_in_progress().await, 0, "{}", b.name());
        assert_eq!(b.media.size(&k).await.unwrap(), None, "{}", b.name());
    }
}

#[tokio::test]
async fn deleting_a_channel_deletes_its_attachments_only() {
    for b in Backend::all().await {
        let m = &b.media;
        for k in [key(1, 1), key(1, 2), key(10, 3), key(2, 4)] {
            m.put(&k, Bytes::from_static(b"x")).await.unwrap();
        }
        let avatar = Key::avatar(Id::new(1), "ab", "png").unwrap();
        m.put(&avatar, Bytes::from_static(b"x")).await.unwrap();
        m.delete_channel(Id::new(1)).await.unwrap();
        assert_eq!(b.everything().await, ["attachments/10/3", "attachments/2/4", "avatars/1/ab.png"], "{}", b.name());
        m.delete_channel(Id::new(1)).await.unwrap();
        m.delete_channel(Id::new(10)).await.unwrap();
        m.delete_channel(Id::new(2)).await.unwrap();
        assert_eq!(b.everything().await, ["avatars/1/ab.png"], "{}", b.name());
    }
}
