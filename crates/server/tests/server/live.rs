//! The server in-process on a real socket: [`LiveServer`] runs `tally_server::serve_on`
//! on a loopback port it binds (port 0) on a runtime of its own, for clients in other
//! threads and processes.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tally_server::{App, Recovery, ServeError, ServerConfig, SystemClock};
use tokio::runtime::Runtime;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::http::Http;

/// How long a graceful stop may take.
const STOP_TIMEOUT: Duration = Duration::from_secs(20);

/// A running server. Dropping it stops it gracefully (in-flight requests finish, the log
/// is flushed).
#[derive(Debug)]
pub struct LiveServer {
    /// Where it listens.
    pub addr: SocketAddr,
    /// What opening the data directory recovered.
    pub recovery: Recovery,
    /// The shared state the server runs on (its TSDB, for reads no HTTP API offers).
    pub app: App,
    runtime: Runtime,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<Result<(), ServeError>>>,
}

impl LiveServer {
    /// Opens `data_dir` with `config` and serves it on a free loopback port, with the
    /// system clock.
    pub fn start(mut config: ServerConfig, data_dir: &Path) -> Self {
        config.data_dir = data_dir.to_owned();
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("starting a tokio runtime");
        let listener = runtime
            .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
            .expect("binding 127.0.0.1:0");
        let addr = listener.local_addr().expect("the bound address");
        let (app, recovery) =
            tally_server::open(config, Arc::new(SystemClock)).expect("opening the server state");
        let (stop, stopped) = oneshot::channel::<()>();
        let task = runtime.spawn(tally_server::serve_on(listener, app.clone(), async move {
            let _ = stopped.await;
        }));
        Self {
            addr,
            recovery,
            app,
            runtime,
            stop: Some(stop),
            task: Some(task),
        }
    }

    /// A client of this server.
    pub fn http(&self) -> Http {
        Http::new(self.addr)
    }

    /// `http://<addr>`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops gracefully and returns how serving ended.
    pub fn stop(mut self) -> Result<(), String> {
        self.stop_inner()
    }

    fn stop_inner(&mut self) -> Result<(), String> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let Some(task) = self.task.take() else {
            return Ok(());
        };
        self.runtime.block_on(async {
            match tokio::time::timeout(STOP_TIMEOUT, task).await {
                Ok(Ok(result)) => result.map_err(|e| e.to_string()),
                Ok(Err(join)) => Err(format!("the server task failed: {join}")),
                Err(_) => Err(format!("the server did not stop within {STOP_TIMEOUT:?}")),
            }
        })
    }
}

impl Drop for LiveServer {
    fn drop(&mut self) {
        let _ = self.stop_inner();
    }
}
