//! Binding the voice server: addresses and the self-signed certificate.

use voice::{Listeners, VoiceConfig};

fn config() -> VoiceConfig {
    VoiceConfig { listen: "127.0.0.1:0".parse().unwrap(), udp_port: 0, webrtc_udp_port: 0, ..VoiceConfig::default() }
}

#[tokio::test]
async fn without_a_certificate_one_is_made_once_and_kept() {
    let dir = tempfile::tempdir().unwrap();
    let first = Listeners::bind(&config(), dir.path()).await.unwrap();
    let a = first.addresses().clone();
    assert_eq!(a.endpoint, a.gateway.to_string(), "the endpoint defaults to the bound address");
    assert_eq!(a.public_ip.to_string(), "127.0.0.1");
    assert_ne!(a.udp.port(), 0);
    let cert = dir.path().join("voice/self-signed-cert.pem");
    let pem = std::fs::read_to_string(&cert).unwrap();
    assert!(pem.starts_with("-----BEGIN CERTIFICATE-----"));
    drop(first);
    let _second = Listeners::bind(&config(), dir.path()).await.unwrap();
    assert_eq!(std::fs::read_to_string(&cert).unwrap(), pem, "kept across restarts");
}

#[tokio::test]
async fn configured_addresses_and_certificate_files_are_checked() {
    let dir = tempfile::tempdir().unwrap();
    let mut c = config();
    c.public_ip = Some("203.0.113.7".parse().unwrap());
    c.endpoint = Some("voice.example.org:443".into());
    let l = Listeners::bind(&c, dir.path()).await.unwrap();
    assert_eq!(l.addresses().endpoint, "voice.example.org:443");
    assert_eq!(l.addresses().public_ip.to_string(), "203.0.113.7");

    c.tls_cert = Some(dir.path().join("missing.pem"));
    let Err(e) = Listeners::bind(&c, dir.path()).await else { panic!("a lone tls_cert is refused") };
    assert!(e.to_string().contains("together"), "{e}");
    c.tls_key = Some(dir.path().join("missing-key.pem"));
    let Err(e) = Listeners::bind(&c, dir.path()).await else { panic!("missing files are refused") };
    assert!(e.to_string().contains("missing.pem"), "{e}");
}
