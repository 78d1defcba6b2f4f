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

    /// `None` means: send as a text frame.
    pub fn compress(&mut self, text: &[u8]) -> std::io::Result<Option<Vec<u8>>> {
        match self {
            Self::None => Ok(None),
            Self::ZlibStream(z) => {
                let mut out = Vec::with_capacity(text.len() / 2 + 64);
                let start_in = z.total_in();
                loop {
                    let consumed = (z.total_in() - start_in) as usize;
                    if out.capacity() - out.len() < 64 {
                        out.reserve(out.capacity().max(256));
                    }
                    z.compress_vec(&text[consumed..], &mut out, FlushCompress::Sync).map_err(std::io::Error::other)?;
                    // Done when all input is in and the flush marker is out.
                    if (z.total_in() - start_in) as usize == text.len() && out.len() < out.capacity() {
                        break;
                    }
                }
                Ok(Some(out))
            }
            Self::ZstdStream(enc) => {
                enc.write_all(text)?;
                enc.flush()?;
                Ok(Some(std::mem::take(enc.get_mut())))
            }
            Self::PerMessage => {
                let mut enc =
                    flate2::write::ZlibEncoder::new(Vec::with_capacity(text.len() / 2 + 32), Compression::default());
                enc.write_all(text)?;
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
            let out = c.compress(msg).unwrap().unwrap();
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
            all.extend(c.compress(msg).unwrap().unwrap());
        }
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(&all[..]).unwrap().read_to_end(&mut out).ok();
        assert_eq!(out, b"helloworld");

        let mut p = Compressor::PerMessage;
        let z = p.compress(b"{\"op\":0}").unwrap().unwrap();
        let mut plain = String::new();
        flate2::read::ZlibDecoder::new(&z[..]).read_to_string(&mut plain).unwrap();
        assert_eq!(plain, "{\"op\":0}");
    }
}
