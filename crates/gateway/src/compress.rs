//! Transport compression, one context per connection: zlib-stream (every
//! message sync-flushed, so each ends in `00 00 ff ff`), zstd-stream, or
//! per-message zlib when IDENTIFY asks for `compress: true`.

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress};

pub enum Compressor {
    None,
    ZlibStream(Compress),
    ZstdStream(zstd::stream::write::Encoder<'static, Vec<u8>>),
    /// Each message its own complete zlib stream.
    PerMessage,
}

/// What a connection asked for in its URL (`compress=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Transport {
    Plain,
    ZlibStream,
    ZstdStream,
}

impl Compressor {
    pub fn for_transport(t: Transport) -> std::io::Result<Self> {
        Ok(match t {
            Transport::Plain => Self::None,
            Transport::ZlibStream => Self::ZlibStream(Compress::new(Compression::default(), true)),
            Transport::ZstdStream => Self::ZstdStream(zstd::stream::write::Encoder::new(Vec::new(), 3)?),
        })
    }

    /// Compresses one message given in parts (so a shared payload need not
    /// be copied next to its header first). `None` means: send the parts,
    /// joined, as a text frame.
    pub fn compress(&mut self, parts: &[&[u8]]) -> std::io::Result<Option<Vec<u8>>> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        match self {
            Self::None => Ok(None),
            Self::ZlibStream(z) => {
                let mut out = Vec::with_capacity(len / 2 + 64);
                for (i, part) in parts.iter().enumerate() {
                    // Only the last part is flushed, so the message ends with
                    // exactly one sync marker.
                    let flush = if i + 1 == parts.len() { FlushCompress::Sync } else { FlushCompress::None };
                    let start_in = z.total_in();
                    loop {
                        let consumed = (z.total_in() - start_in) as usize;
                        if out.capacity() - out.len() < 64 {
                            out.reserve(out.capacity().max(256));
                        }
                        z.compress_vec(&part[consumed..], &mut out, flush).map_err(std::io::Error::other)?;
                        // Done when the part is in and, for the flush, the
                        // marker is out (room was left over).
                        if (z.total_in() - start_in) as usize == part.len() && out.len() < out.capacity() {
                            break;
                        }
                    }
                }
                Ok(Some(out))
            }
            Self::ZstdStream(enc) => {
                for part in parts {
                    enc.write_all(part)?;
                }
                enc.flush()?;
                Ok(Some(std::mem::take(enc.get_mut())))
            }
            Self::PerMessage => {
                let mut enc = flate2::write::ZlibEncoder::new(Vec::with_capacity(len / 2 + 32), Compression::default());
                for part in parts {
                    enc.write_all(part)?;
                }
                Ok(Some(enc.finish()?))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn zlib_stream_messages_end_with_sync_marker_and_inflate_in_sequence() {
        let mut c = Compressor::for_transport(Transport::ZlibStream).unwrap();
        let mut d = flate2::Decompress::new(true);
        for msg in [&b"{\"op\":10}"[..], &[b'x'; 100_000][..], b"{\"op\":11}"] {
            let out = c.compress(&[&msg[..3], &msg[3..]]).unwrap().unwrap();
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
            let mut plain = Vec::with_capacity(msg.len() + 16);
            d.decompress_vec(&out, &mut plain, flate2::FlushDecompress::Sync).unwrap();
            assert_eq!(plain, msg);
        }
    }

    #[test]
    fn zstd_stream_and_per_message_round_trip() {
        let mut c = Compressor::for_transport(Transport::ZstdStream).unwrap();
        let mut all = Vec::new();
        for msg in [&b"hello"[..], b"world"] {
            all.extend(c.compress(&[msg]).unwrap().unwrap());
        }
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(&all[..]).unwrap().read_to_end(&mut out).ok();
        assert_eq!(out, b"helloworld");

        let mut p = Compressor::PerMessage;
        let z = p.compress(&[b"{\"op\"", b":0}"]).unwrap().unwrap();
        let mut plain = String::new();
        flate2::read::ZlibDecoder::new(&z[..]).read_to_string(&mut plain).unwrap();
        assert_eq!(plain, "{\"op\":0}");
    }
}
