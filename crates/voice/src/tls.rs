//! The voice gateway's certificate: the configured one, or a self-signed
//! one kept in the data directory so that it stays the same across
//! restarts (a client told to trust it keeps trusting it).

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::TlsAcceptor;

use crate::{Error, VoiceConfig};

pub(crate) fn acceptor(config: &VoiceConfig, data_dir: &Path, host: &str) -> Result<TlsAcceptor, Error> {
    let (cert, key) = match (&config.tls_cert, &config.tls_key) {
        (Some(c), Some(k)) => (c.clone(), k.clone()),
        (None, None) => self_signed(data_dir, host)?,
        _ => return Err(Error::Tls("voice.tls_cert and voice.tls_key must be set together".into())),
    };
    let certs = CertificateDer::pem_file_iter(&cert)
        .and_then(|it| it.collect::<Result<Vec<_>, _>>())
        .map_err(|e| Error::Tls(format!("reading {}: {e}", cert.display())))?;
    if certs.is_empty() {
        return Err(Error::Tls(format!("{} holds no certificate", cert.display())));
    }
    let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| Error::Tls(format!("reading {}: {e}", key.display())))?;
    // ring, not aws-lc-rs: it builds without a C toolchain dance; its lack
    // of post-quantum key exchange is why rustls marks it deprecated.
    #[allow(deprecated)]
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .and_then(|b| b.with_no_client_auth().with_single_cert(certs, key))
        .map_err(|e| Error::Tls(e.to_string()))?;
    Ok(TlsAcceptor::from(Arc::new(server)))
}

fn self_signed(data_dir: &Path, host: &str) -> Result<(PathBuf, PathBuf), Error> {
    let dir = data_dir.join("voice");
    let (cert, key) = (dir.join("self-signed-cert.pem"), dir.join("self-signed-key.pem"));
    if !(cert.exists() && key.exists()) {
        let io = |e: std::io::Error| Error::Tls(format!("writing {}: {e}", dir.display()));
        std::fs::create_dir_all(&dir).map_err(io)?;
        let mut names = vec![host.to_owned()];
        if host != "localhost" {
            names.push("localhost".into());
        }
        let generated = rcgen::generate_simple_self_signed(names).map_err(|e| Error::Tls(e.to_string()))?;
        std::fs::write(&key, generated.key_pair.serialize_pem()).map_err(io)?;
        std::fs::write(&cert, generated.cert.pem()).map_err(io)?;
    }
    tracing::warn!(
        cert = %cert.display(),
        "voice: no voice.tls_cert/tls_key configured; using a self-signed certificate for {host}. \
         Voice clients must trust it (e.g. NODE_EXTRA_CA_CERTS), or configure a real certificate"
    );
    Ok((cert, key))
}
