//! Transport compression, one context per connection: zlib-stream (every
//! message sync-flushed, so each ends in `00 00 ff ff`), zstd-stream, or
//! per-message zlib when IDENTIFY asks for `compress: true`.
//!
//! A context costs memory (zstd's at its default level reserved ~800 KB,
//! deflate's ~160 KB), so none exists before a client identifies or
//! resumes: until then messages (HELLO, heartbeat ACKs, op 9) go out in the
//! same stream format but stored, uncompressed, which needs no state (a
//! stored deflate block; a zstd frame of one raw block). Both formats let
//! a real context take over later: after a sync flush a zlib stream goes
//! on with raw deflate blocks from any compressor, and a zstd stream is a
//! sequence of frames. Windows are sized for chat payloads, not files.

use std::io::Write;

use flate2::{Compress, Compression, FlushCompress};

/// zstd's window: 64 KiB, larger than any dispatch but READY and big
/// GUILD_CREATEs (which still compress well within it), and what the
/// client's decoder must keep too.
const ZSTD_WINDOW_LOG: u32 = 16;
const ZSTD_LEVEL: i32 = 3;

pub enum Compressor {
    /// Before IDENTIFY/RESUME: the stream's format, no context yet.
    Stored {
        transport: Transport,
        started: bool,
    },
    None,
    ZlibStream(Box<Compress>),
    ZstdStream(Box<zstd::stream::write::Encoder<'static, Vec<u8>>>),
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

fn zstd_encoder() -> std::io::Result<zstd::stream::write::Encoder<'static, Vec<u8>>> {
    let mut enc = zstd::stream::write::Encoder::new(Vec::new(), ZSTD_LEVEL)?;
    enc.window_log(ZSTD_WINDOW_LOG)?;
    // Level 3 would size its match tables for a 2 MB window (~768 KB);
    // these (64 KiB each) suit the 64 KiB one.
    enc.set_parameter(zstd::stream::raw::CParameter::HashLog(14))?;
    enc.set_parameter(zstd::stream::raw::CParameter::ChainLog(14))?;
    Ok(enc)
}

/// `parts` as stored deflate blocks (at most 65,535 bytes each) ending in a
/// sync-flush marker, after the zlib header if the stream starts here.
fn stored_deflate(parts: &[&[u8]], header: bool) -> Vec<u8> {
    let data = parts.concat();
    let mut out = Vec::with_capacity(data.len() + data.len() / 65_535 * 5 + 16);
    if header {
        // Deflate, 32 KiB window, no dictionary, "fastest" level.
        out.extend_from_slice(&[0x78, 0x01]);
    }
    for chunk in data.chunks(65_535) {
        let len = chunk.len() as u16;
        out.push(0x00); // not final, stored; the rest of the byte is padding
        out.extend_from_slice(&len.to_le_bytes());
        out.extend_from_slice(&(!len).to_le_bytes());
        out.extend_from_slice(chunk);
    }
    // An empty stored block: the `00 00 ff ff` marker clients split on.
    out.extend_from_slice(&[0x00, 0x00, 0x00, 0xff, 0xff]);
    out
}

/// `parts` as one complete zstd frame of raw (uncompressed) blocks.
fn stored_zstd(parts: &[&[u8]]) -> Vec<u8> {
    let data = parts.concat();
    let mut out = Vec::with_capacity(data.len() + data.len() / (128 * 1024) * 3 + 16);
    out.extend_from_slice(&0xFD2F_B528u32.to_le_bytes());
    // Single segment (the window is the content), a 4-byte content size,
    // no checksum, no dictionary.
    out.push(0b1010_0000);
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    let mut chunks = data.chunks(128 * 1024).peekable();
    if chunks.peek().is_none() {
        // One empty last raw block.
        out.extend_from_slice(&[0x01, 0x00, 0x00]);
    }
    while let Some(chunk) = chunks.next() {
        let last = u32::from(chunks.peek().is_none());
        let header = ((chunk.len() as u32) << 3) | last; // block type 0: raw
        out.extend_from_slice(&header.to_le_bytes()[..3]);
        out.extend_from_slice(chunk);
    }
    out
}

impl Compressor {
    /// A connection's compressor until it identifies: no context.
    pub fn stored(transport: Transport) -> Self {
        Self::Stored { transport, started: false }
    }

    /// Makes the real context (at IDENTIFY or RESUME), continuing the
    /// stream sent so far. Per-message zlib replaces a plain transport.
    pub fn start(&mut self, per_message: bool) -> std::io::Result<()> {
        let Self::Stored { transport, started } = *self else { return Ok(()) };
        *self = match transport {
            Transport::Plain if per_message => Self::PerMessage,
            Transport::Plain => Self::None,
            // Raw deflate once the zlib header has gone out. The fastest
            // level: every connection compresses every frame with its own
            // context, and with many contexts level 6 took ~46 µs for a
            // 769-byte MESSAGE_CREATE against ~3 µs for 20% more bytes
            // (docs/PERFORMANCE.md, "Fan-out and idle memory").
            Transport::ZlibStream => Self::ZlibStream(Box::new(Compress::new(Compression::fast(), !started))),
            Transport::ZstdStream => Self::ZstdStream(Box::new(zstd_encoder()?)),
        };
        Ok(())
    }

    /// Compresses one message given in parts (so a shared payload need not
    /// be copied next to its header first). `None` means: send the parts,
    /// joined, as a text frame.
    pub fn compress(&mut self, parts: &[&[u8]]) -> std::io::Result<Option<Vec<u8>>> {
        let len: usize = parts.iter().map(|p| p.len()).sum();
        match self {
            Self::None | Self::Stored { transport: Transport::Plain, .. } => Ok(None),
            Self::Stored { transport: Transport::ZlibStream, started } => {
                let header = !std::mem::replace(started, true);
                Ok(Some(stored_deflate(parts, header)))
            }
            Self::Stored { transport: Transport::ZstdStream, .. } => Ok(Some(stored_zstd(parts))),
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
        let mut d = flate2::Decompress::new(true);
        let mut c = Compressor::stored(Transport::ZlibStream);
        let big = [b'x'; 100_000];
        for (i, msg) in
            [&b"{\"op\":10}"[..], &big[..], b"", b"{\"op\":11}", &big[..], b"{\"op\":11}"].iter().enumerate()
        {
            if i == 3 {
                c.start(false).unwrap();
                assert!(matches!(c, Compressor::ZlibStream(_)));
            }
            let (a, b) = msg.split_at(msg.len().min(3));
            let out = c.compress(&[a, b]).unwrap().unwrap();
            assert!(out.ends_with(&[0, 0, 0xff, 0xff]));
            let mut plain = Vec::with_capacity(msg.len() + 16);
            d.decompress_vec(&out, &mut plain, flate2::FlushDecompress::Sync).unwrap();
            assert_eq!(&plain[..], *msg);
        }
    }

    #[test]
    fn zstd_stream_and_per_message_round_trip() {
        let mut c = Compressor::stored(Transport::ZstdStream);
        let mut all = Vec::new();
        let big = vec![b'y'; 300_000];
        for msg in [&b"hi "[..], b"", &big[..]] {
            all.extend(c.compress(&[msg]).unwrap().unwrap());
        }
        c.start(false).unwrap();
        for msg in [&b"hello"[..], b"world"] {
            all.extend(c.compress(&[msg]).unwrap().unwrap());
        }
        let mut out = Vec::new();
        zstd::stream::read::Decoder::new(&all[..]).unwrap().read_to_end(&mut out).ok();
        assert_eq!(out, [&b"hi "[..], &big[..], b"helloworld"].concat());

        let mut p = Compressor::PerMessage;
        let z = p.compress(&[b"{\"op\"", b":0}"]).unwrap().unwrap();
        let mut plain = String::new();
        flate2::read::ZlibDecoder::new(&z[..]).read_to_string(&mut plain).unwrap();
        assert_eq!(plain, "{\"op\":0}");
    }
}
