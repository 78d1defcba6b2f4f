//! A TCP proxy in front of the server, so a test can cut a bot's connections
//! the way a network does: no close frame, no goodbye, just gone. The bot
//! reaches the server only through it (REST and gateway alike: the server
//! derives its gateway URLs from the Host the bot dialled, so a bot that
//! came through the proxy reconnects through it too).
//!
//! While the network is down, new connections are held, not refused, as
//! packets to an unreachable host are: a library that gives up on resuming
//! after a failed connection attempt (disnake identifies afresh then, by
//! design) still gets to resume once the network is back.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::{AbortHandle, JoinHandle};

pub struct Proxy {
    addr: SocketAddr,
    state: Arc<Mutex<State>>,
    /// Whether the network is up; connections made while it is down wait.
    up: watch::Sender<bool>,
    accept: JoinHandle<()>,
}

#[derive(Default)]
struct State {
    /// One task per connection; aborting it drops both sockets.
    pipes: Vec<AbortHandle>,
    /// Connections forwarded to the server, in all.
    forwarded: usize,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream` (`host:port`).
    pub async fn start(upstream: String) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().unwrap();
        let state = Arc::new(Mutex::new(State::default()));
        let (up, _) = watch::channel(true);
        let shared = state.clone();
        let network = up.clone();
        let accept = tokio::spawn(async move {
            while let Ok((mut client, _)) = listener.accept().await {
                let upstream = upstream.clone();
                let mut network = network.subscribe();
                let counted = shared.clone();
                let pipe = tokio::spawn(async move {
                    if network.wait_for(|up| *up).await.is_err() {
                        return;
                    }
                    counted.lock().unwrap().forwarded += 1;
                    let Ok(mut server) = TcpStream::connect(&upstream).await else { return };
                    let _ = tokio::io::copy_bidirectional(&mut client, &mut server).await;
                });
                let mut state = shared.lock().unwrap();
                state.pipes.retain(|p| !p.is_finished());
                state.pipes.push(pipe.abort_handle());
            }
        });
        Self { addr, state, up, accept }
    }

    /// `http://127.0.0.1:PORT`, the base URL to give a bot.
    pub fn http_base(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The network goes down: every open connection is dropped, and new
    /// ones wait until [`Self::restore`]. Returns how many were open.
    pub fn cut(&self) -> usize {
        self.up.send_replace(false);
        let mut state = self.state.lock().unwrap();
        let open = state.pipes.iter().filter(|p| !p.is_finished()).count();
        for pipe in state.pipes.drain(..) {
            pipe.abort();
        }
        open
    }

    pub fn restore(&self) {
        self.up.send_replace(true);
    }

    /// Connections forwarded to the server so far.
    pub fn forwarded(&self) -> usize {
        self.state.lock().unwrap().forwarded
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        for pipe in self.state.lock().unwrap().pipes.drain(..) {
            pipe.abort();
        }
    }
}
